"""Office-wide settings the engine needs, handed over by the composition root."""

from __future__ import annotations

from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

zone = ZoneInfo("Asia/Shanghai")
case_prefix = "OW"
# The yellow threshold of a step that declares none (``warningWorkingDays``): the SLA package sets it
# from the office's escalation file; lint holds every step's limit against it.
warning_working_days = 1


def configure(timezone: str, prefix: str = "OW") -> None:
    global zone, case_prefix
    zone = ZoneInfo(timezone)
    case_prefix = prefix


class WorkingDays(Protocol):
    """The working-day arithmetic the SLA package provides (a port, so intake can use it too)."""

    def add(self, start: date, n: int, *, provisional: bool = False) -> tuple[date, bool]:
        """``start`` + ``n`` working days (day 1 is the first working day after ``start``);
        returns (date, provisional). Raises engine.errors.Invalid for a year without data."""
        ...

    def between(self, a: date, b: date, *, provisional: bool = False) -> int:
        """Working days in (a, b]."""
        ...


working_days: WorkingDays | None = None


def set_warning_working_days(days: int) -> None:
    global warning_working_days
    warning_working_days = days


def set_working_days(provider: WorkingDays) -> None:
    global working_days
    working_days = provider


def today():
    """The office's calendar day now (reads the one clock)."""
    from engine import clock

    return clock.now().astimezone(zone).date()
