"""What crosses back from a script worker is plain data: a pickle naming anything else is refused."""

from __future__ import annotations

import os
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from engine.spiff.script_wire import WireError, dumps, loads, reply_of


def test_plain_data_round_trips():
    value = {"n": 1, "f": 1.5, "s": "申请", "b": b"x", "l": [1, (2, 3)], "set": {1}, "fs": frozenset({2}),
             "none": None, "at": datetime(2026, 3, 2, 10, tzinfo=UTC), "day": date(2026, 3, 2),
             "zone": datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai")), "d": timedelta(days=3),
             "fixed": datetime(2026, 3, 2, tzinfo=timezone(timedelta(hours=8))), "money": Decimal("1.50"),
             "id": UUID(int=7), "err": ValueError("bad")}
    back = loads(dumps(value))
    assert {k: v for k, v in back.items() if k != "err"} == {k: v for k, v in value.items() if k != "err"}
    assert type(back["err"]) is ValueError and back["err"].args == ("bad",)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload", [
    pickle.dumps(_Evil()),
    pickle.dumps(getattr),  # the gadget a ZoneInfo's default pickle needs, and so refused
    pickle.dumps(("ok", open)),
    b"not a pickle",
])
def test_anything_else_is_refused(payload):
    with pytest.raises(WireError):
        loads(payload)


def test_a_reply_has_one_of_two_shapes():
    assert reply_of(dumps(("ok", {"x": 1}))) == ("ok", {"x": 1})
    assert reply_of(dumps(("error", "KeyError", ("k",), 3, False)))[1] == "KeyError"
    for bad in [("ok",), ("error", "KeyError", "k", 3, False), ("done", 1), ["ok", 1]]:
        with pytest.raises(WireError):
            reply_of(dumps(bad))
