"""Opaque keyset cursors: the sort name, the last row's sort value and its id, base64url JSON."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import Invalid, Problem


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: ``value`` of the sort column (None sorts last) and the task id."""

    sort: str
    value: Any
    task_id: str


def _bad(detail: str) -> Invalid:
    return Invalid("the cursor is not valid for this list", [Problem(detail, field="cursor")])


_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # made once, not per page


def encode(sort: str, value: Any, task_id: str) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    payload = _encode_json([sort, raw, task_id])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(token: str, sort: str, *, is_datetime: bool) -> Cursor:
    """Parse a cursor made by :func:`encode` for the same sort; raises Invalid (field ``cursor``)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        name, raw, task_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad("cannot be decoded") from None
    if name != sort:
        raise _bad(f"made for sort '{name}', not '{sort}'")
    if not isinstance(task_id, str) or (raw is not None and not isinstance(raw, str)):
        raise _bad("malformed")
    value: Any = raw
    if raw is not None and is_datetime:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise _bad("malformed instant") from None
        if value.tzinfo is None:
            raise _bad("instant without zone")
    return Cursor(sort, value, task_id)
