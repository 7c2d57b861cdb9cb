"""What crosses between the web process and a script worker: length-prefixed pickles of plain data.

A job is ``(mode, source, context, external_context, timeout_seconds, frozen_now)``; a reply is
``("ok", value)`` or ``("error", class name, args, lineno, retiring)`` (``retiring``: the worker ends
after this reply). Both ends read with :func:`loads`, which
rebuilds only plain data (the builtin containers, numbers, text, dates and times, decimals, UUIDs):
a pickle naming anything else is refused, so even a worker whose sandbox had been escaped could not
make the web process run code by what it sends back.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a reply this big could not be stored in a case anyway
HEADER = struct.Struct(">I")

# Errors a script may raise that are rebuilt by class in the web process (anything else: ScriptError).
PLAIN_ERRORS = frozenset({
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "RuntimeError", "StopIteration", "TypeError", "ValueError",
    "ZeroDivisionError", "OverflowError", "RecursionError", "UnicodeError", "NotImplementedError",
})
_ALLOWED = {
    ("builtins", name) for name in ("complex", "range", "slice", "set", "frozenset", "bytearray", *PLAIN_ERRORS)
} | {("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")} | {
    ("decimal", "Decimal"), ("uuid", "UUID"), ("zoneinfo", "ZoneInfo"),
}


class WireError(Exception):
    """A message that is not plain data, or too big, or cut short."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise WireError(f"{module}.{name} is not plain data")
        return super().find_class(module, name)


class _PlainPickler(pickle.Pickler):
    # A ZoneInfo pickles as getattr(ZoneInfo, "_unpickle"), and getattr is no data: rebuild it by key.
    dispatch_table = {ZoneInfo: lambda zone: (ZoneInfo, (zone.key,))}


def dumps(value: Any) -> bytes:
    out = io.BytesIO()
    _PlainPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


def loads(data: bytes) -> Any:
    """Plain data from ``data``; raises WireError for anything else."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except WireError:
        raise
    except Exception as exc:  # a malformed pickle raises any of a dozen types
        raise WireError(f"not a readable message: {type(exc).__name__}: {exc}") from None


def reply_of(data: bytes) -> tuple:
    """A worker's reply, checked for shape: ``("ok", value)`` or ``("error", name, args, lineno, retiring)``."""
    reply = loads(data)
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ok":
        return reply
    if (isinstance(reply, tuple) and len(reply) == 5 and reply[0] == "error" and isinstance(reply[1], str)
            and isinstance(reply[2], tuple) and isinstance(reply[3], int) and isinstance(reply[4], bool)):
        return reply
    raise WireError("a reply is ('ok', value) or ('error', name, args, lineno, retiring)")


def write_message(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_message(stream: BinaryIO) -> bytes | None:
    """The next message's bytes, or None at a clean end of stream (the other end closed)."""
    header = stream.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise WireError("message cut short")
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {size:,} bytes is over the limit of {MAX_MESSAGE_BYTES:,}")
    payload = stream.read(size)
    if len(payload) < size:
        raise WireError("message cut short")
    return payload
