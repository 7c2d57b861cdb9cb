"""The sandbox's run-time guards: the deadline, the size caps, the builtins a script sees.

RestrictedPython compiles every loop step, call, operator and attribute access of a script into a
call of one of these (``engine.spiff.sandbox``). The caps are the contract pinned by
tests/unit/test_script_caps.py: each refuses the first value past it and allows the value at it.
"""

from __future__ import annotations

import builtins
import math
import operator
import re
import threading
from datetime import timedelta
from time import monotonic

from RestrictedPython import PrintCollector
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)

from engine.spiff.feel_runtime import HELPERS
from engine.spiff.script_errors import ScriptTimeout, ScriptTooLarge
from engine.spiff.timers import ClockDate, ClockDatetime

MAX_ITEMS = 10_000_000  # longest str/list/tuple an operator may build
MAX_RANGE = 1_000_000
MAX_INT_BITS = 1_000_000  # about 300,000 decimal digits


class _Deadline(threading.local):
    at = math.inf
    limit = 0.0


deadline = _Deadline()  # per thread: when the running script must stop, and its limit


def _tick() -> None:
    if monotonic() > deadline.at:
        raise ScriptTimeout(f"script ran longer than {deadline.limit:g} s and was stopped")


def _getiter(iterable):
    at = deadline.at
    for item in iterable:
        if monotonic() > at:
            _tick()
        yield item


_SIZED = (str, bytes, list, tuple)


def _too_large(what: str, size: int, limit: int):
    raise ScriptTooLarge(f"{what} of {size:,} is over the script limit of {limit:,}")


def _check_mul(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _too_large("integer product (bits)", a.bit_length() + b.bit_length(), MAX_INT_BITS)
    elif isinstance(b, int) and isinstance(a, _SIZED) and len(a) * b > MAX_ITEMS:
        _too_large("repeated sequence (items)", len(a) * b, MAX_ITEMS)
    elif isinstance(a, int) and isinstance(b, _SIZED) and len(b) * a > MAX_ITEMS:
        _too_large("repeated sequence (items)", len(b) * a, MAX_ITEMS)


def _check_pow(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if a.bit_length() * b > MAX_INT_BITS:
            _too_large("power (bits)", a.bit_length() * b, MAX_INT_BITS)


def _check_lshift(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        _too_large("shifted integer (bits)", a.bit_length() + b, MAX_INT_BITS)


def _mul(a, b):
    _check_mul(a, b)
    return a * b


def _pow(a, b, mod=None):
    if mod is None:
        _check_pow(a, b)
        return a**b
    return pow(a, b, mod)


def _lshift(a, b):
    _check_lshift(a, b)
    return a << b


def _add(a, b):
    # Checked after the fact: a sum is at most twice its larger operand, so doubling stops here.
    result = a + b
    if isinstance(result, _SIZED) and len(result) > MAX_ITEMS:
        _too_large("concatenation (items)", len(result), MAX_ITEMS)
    return result


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([^a-zA-Z%]*)")
_DIGITS = re.compile(r"\d+")


def _spec(spec: str, star_is_width: bool = False) -> str:
    if star_is_width and "*" in spec:
        raise ScriptTooLarge("'*' widths in % formats are not allowed in scripts")
    for digits in _DIGITS.findall(spec):
        if len(digits) > 8 or int(digits) > MAX_ITEMS:
            raise ScriptTooLarge(f"format width {digits[:20]} is over the script limit of {MAX_ITEMS:,}")
    return spec


def _mod(a, b):
    if isinstance(a, str | bytes) and "%" in (text := a if isinstance(a, str) else a.decode("latin-1")):
        for spec in _PERCENT_SPEC.findall(text):
            _spec(spec, star_is_width=True)
    return a % b


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}
_INPLACE_CHECKS = {"*=": _check_mul, "**=": _check_pow, "<<=": _check_lshift}


def _inplacevar(op: str, x, y):
    if op == "%=":
        return _mod(x, y)
    if op in _INPLACE_CHECKS:
        _INPLACE_CHECKS[op](x, y)
    result = _INPLACE[op](x, y)
    if isinstance(result, _SIZED) and len(result) > MAX_ITEMS:
        _too_large("concatenation (items)", len(result), MAX_ITEMS)
    return result


def _augitem(obj, key, op: str, value) -> None:
    full_write_guard(obj)[key] = _inplacevar(op, obj[key], value)


def _range(*args) -> range:
    r = range(*args)
    try:
        n = len(r)
    except OverflowError:  # longer than sys.maxsize
        n = args[-1] if len(args) < 3 else abs(args[1] - args[0])
    if n > MAX_RANGE:
        _too_large("range (items)", n, MAX_RANGE)
    return r


_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _getattr(obj, name: str):
    value = safer_getattr_raise(obj, name)
    if name in _PADDING and isinstance(obj, str | bytes):
        def padded(*args, **kwargs):
            width = args[0] if args else kwargs.get("tabsize", 8)
            tabs = obj.count("\t" if isinstance(obj, str) else b"\t") if name == "expandtabs" else 1
            if width * max(1, tabs) > MAX_ITEMS:
                _too_large("padded string (chars)", width * max(1, tabs), MAX_ITEMS)
            return value(*args, **kwargs)
        return padded
    return value


def _apply(func, *args, **kwargs):
    return func(*args, **kwargs)


_C_INTERNAL_IMPORTS = frozenset({"_strptime", "time"})


def _internal_import(name, *args, **kwargs):
    # datetime.strptime/strftime import these from C through the caller's __builtins__; scripts
    # themselves can never name __import__ (refused at compile), so this serves only the C side.
    if name not in _C_INTERNAL_IMPORTS:
        raise ImportError(f"import of {name!r} is not allowed in scripts")
    return builtins.__import__(name, *args, **kwargs)


_SAFE_BUILTINS = {
    "abs", "all", "any", "bool", "callable", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "next", "ord", "repr",
    "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "RuntimeError", "StopIteration", "TypeError", "ValueError",
    "ZeroDivisionError",
}
BUILTINS = {name: getattr(builtins, name) for name in _SAFE_BUILTINS} | {
    "None": None, "True": True, "False": False, "range": _range, "pow": _pow,
    "datetime": ClockDatetime, "date": ClockDate, "timedelta": timedelta, "__import__": _internal_import,
}

# Set over the task data on every run, so data can never shadow a guard.
GUARDS = {
    "__builtins__": BUILTINS, "_getattr_": _getattr, "_getitem_": operator.getitem,
    "_getiter_": _getiter, "_write_": full_write_guard, "_apply_": _apply, "_print_": PrintCollector,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar, "_tick_": _tick, "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift,
    "_add_": _add, "_augitem_": _augitem, "_mod_": _mod, "_spec_": _spec,
    "_": HELPERS,  # what compiled FEEL and JUEL call (engine.spiff.feel_runtime)
}
