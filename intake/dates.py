"""Dates intake tells the applicant, counted in working days through the engine's port (the SLA
package provides the calendar); intake never counts weekdays itself."""

from __future__ import annotations

from datetime import date

from engine import office
from engine.errors import Invalid


def add_working_days(start: date, n: int) -> tuple[date | None, bool]:
    """``start`` + ``n`` working days and whether the result is provisional (its year's holiday
    arrangement is not published). (None, True) when no calendar is configured or it refuses."""
    if n <= 0:
        return start, False
    port = office.working_days
    if port is None:
        return None, True
    try:
        return port.add(start, n, provisional=True)
    except Invalid:
        return None, True


def working_days_between(a: date, b: date) -> int | None:
    """Working days in (a, b], or None without a calendar."""
    port = office.working_days
    if port is None:
        return None
    try:
        return port.between(a, b, provisional=True)
    except Invalid:
        return None
