"""The sandbox's caps as a contract: each refuses the first value past it and allows the value at it.

A cap that is removed or loosened breaks the contract, and the second test shows that it would be
noticed: it takes each cap away (the unguarded operation in its place, or the limit raised) and
checks that the contract check then fails. The sandbox runs here in this process, the same code the
script workers run (engine.spiff.script_worker imports these modules).
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from RestrictedPython.Guards import safer_getattr_raise

from engine.spiff import guards, sandbox
from engine.spiff.guards import MAX_INT_BITS, MAX_ITEMS, MAX_RANGE
from engine.spiff.script_errors import ScriptTooLarge


@dataclass(frozen=True)
class Cap:
    name: str
    at_limit: str  # runs
    past_limit: str  # refused with ScriptTooLarge before it allocates
    removals: tuple[Callable[[pytest.MonkeyPatch], None], ...]  # ways to take the cap away


def _guard(name: str, plain: Callable) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda mp: mp.setitem(guards.GUARDS, name, plain)


CAPS = [
    Cap("range", f"x = len(range({MAX_RANGE}))", f"x = range({MAX_RANGE + 1})",
        (lambda mp: mp.setitem(guards.BUILTINS, "range", builtins.range),
         lambda mp: mp.setattr(guards, "MAX_RANGE", 10**18))),
    Cap("repeat", f"x = len('a' * {MAX_ITEMS})", f"x = 'a' * {MAX_ITEMS + 1}", (_guard("_mul_", operator.mul),)),
    Cap("concatenate", f"s = 'a' * {MAX_ITEMS - 1}\nx = len(s + 'a')", f"s = 'a' * {MAX_ITEMS}\nx = s + 'a'",
        (_guard("_add_", operator.add),)),
    Cap("power", f"x = (2 ** {MAX_INT_BITS // 2}).bit_length()", f"x = 2 ** {MAX_INT_BITS // 2 + 1}",
        (_guard("_pow_", operator.pow),)),
    Cap("shift", f"x = (1 << {MAX_INT_BITS - 1}).bit_length()", f"x = 1 << {MAX_INT_BITS}",
        (_guard("_lshift_", operator.lshift),)),
    Cap("padding", f"x = len('a'.ljust({MAX_ITEMS}))", f"x = 'a'.ljust({MAX_ITEMS + 1})",
        (_guard("_getattr_", safer_getattr_raise),)),
    Cap("%-width", f"x = len('%{MAX_ITEMS}d' % 1)", f"x = '%{MAX_ITEMS + 1}d' % 1", (_guard("_mod_", operator.mod),)),
    Cap("f-string width", f"x = len(f'{{1:{MAX_ITEMS}}}')", f"x = f'{{1:{MAX_ITEMS + 1}}}'",
        (_guard("_spec_", lambda spec, star_is_width=False: spec),)),
]


def holds(cap: Cap) -> bool:
    """The cap's contract: the value at the limit is built, the next one is refused before it is."""
    at: dict = {}
    sandbox.execute(cap.at_limit, at, None, 10)
    if not at.get("x"):
        return False
    try:
        sandbox.execute(cap.past_limit, {}, None, 10)
    except ScriptTooLarge as refused:
        return "over the script limit" in str(refused)
    return False


@pytest.mark.parametrize("cap", CAPS, ids=[c.name for c in CAPS])
def test_each_cap_allows_its_limit_and_refuses_one_more(cap):
    assert holds(cap)


@pytest.mark.parametrize(("cap", "removal"), [(c, r) for c in CAPS for r in c.removals],
                         ids=[f"{c.name}-{i}" for c in CAPS for i in range(len(c.removals))])
def test_the_contract_notices_a_cap_taken_away(cap, removal, monkeypatch):
    # Given the cap taken away (the plain operation in its place, or its limit raised)
    removal(monkeypatch)
    # Then the contract check fails: the test above would have noticed
    assert not holds(cap)


def test_the_script_limits_come_from_the_settings_and_are_checked():
    from onewindow.app import script_limits
    from onewindow.config import from_env

    # Given the three variables
    limits = script_limits(from_env({"ONEWINDOW_SCRIPT_TIME_LIMIT_MS": "250", "ONEWINDOW_SCRIPT_MEMORY_MB": "128",
                                     "ONEWINDOW_SCRIPT_WORKERS": "3"}))
    # Then they make the pool's limits, and a value out of range names its variable
    assert (limits.time_seconds, limits.memory_mb, limits.workers) == (0.25, 128, 3)
    with pytest.raises(ValueError, match="ONEWINDOW_SCRIPT_WORKERS must be at least 1"):
        script_limits(from_env({"ONEWINDOW_SCRIPT_WORKERS": "0"}))
    with pytest.raises(ValueError, match="ONEWINDOW_SCRIPT_MEMORY_MB must be a whole number"):
        from_env({"ONEWINDOW_SCRIPT_MEMORY_MB": "lots"})
