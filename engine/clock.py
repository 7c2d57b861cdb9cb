"""The one clock the whole system reads.

Everything that needs "now" calls :func:`now`. Tests and drills freeze it with :func:`frozen`
(per context: a thread or a request) or :func:`set_default` (process wide, from ONEWINDOW_FAKE_NOW).
Domain code never calls this: it receives the instant as an argument.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_override: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("onewindow_now", default=None)
_default: datetime | None = None


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a naive value is taken as UTC.

    Raises ValueError on text that is not an ISO instant.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now() -> datetime:
    """The current instant, UTC, timezone-aware."""
    value = _override.get()
    if value is not None:
        return value
    if _default is not None:
        return _default
    return datetime.now(UTC)


def fixed() -> datetime | None:
    """The instant the clock is frozen at here (context or process), or None when it runs free."""
    value = _override.get()
    return value if value is not None else _default


def set_default(value: datetime | None) -> None:
    """Freeze (or with None, release) the clock for the whole process."""
    global _default
    _default = value.astimezone(UTC) if value is not None else None


@contextmanager
def frozen(value: datetime) -> Iterator[datetime]:
    """Freeze the clock at ``value`` for the current context (thread, request, command)."""
    token = _override.set(value.astimezone(UTC))
    try:
        yield value
    finally:
        _override.reset(token)
