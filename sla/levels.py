"""Warning levels of electronic supervision (电子监察): green, yellow as the deadline nears, red once overdue.

Pure: the same rule grades case clocks and step clocks, from a due date and the day of the reading.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from engine.errors import Invalid, Problem
from sla.calendar import WorkingCalendar
from sla.ledger import ClockReading, ClockState

DEFAULT_YELLOW_THRESHOLD = 1


class Level(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def level(
    calendar: WorkingCalendar,
    due: date,
    today: date,
    *,
    threshold: int = DEFAULT_YELLOW_THRESHOLD,
    provisional: bool = False,
) -> Level:
    """Red when ``today`` is past ``due``; yellow when the working days in (today, due] are at most
    ``threshold``; green otherwise.

    Raises Invalid for a negative threshold, YearNotCovered as the calendar does.
    """
    _check_threshold(threshold)
    if today > due:
        return Level.RED
    remaining = calendar.working_days_between(today, due, provisional=provisional)
    return Level.YELLOW if remaining <= threshold else Level.GREEN


def clock_level(
    calendar: WorkingCalendar,
    reading: ClockReading,
    today: date,
    *,
    threshold: int = DEFAULT_YELLOW_THRESHOLD,
    provisional: bool = False,
) -> Level:
    """The level of a clock reading (see :func:`sla.ledger.read_clock`) on ``today``.

    A clock not started is green; a stopped clock is red if it stopped after its due date (finished
    late) and green otherwise: nothing is left to warn about, but lateness stays on the record.
    """
    _check_threshold(threshold)
    if reading.state is ClockState.NOT_STARTED or reading.due is None:
        return Level.GREEN
    if reading.state is ClockState.STOPPED:
        assert reading.stopped_on is not None  # a stopped reading always carries its stop day
        return Level.RED if reading.stopped_on > reading.due.date else Level.GREEN
    # A due date already computed provisionally can only be graded provisionally.
    provisional = provisional or reading.due.provisional
    return level(calendar, reading.due.date, today, threshold=threshold, provisional=provisional)


def _check_threshold(threshold: int) -> None:
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
        raise Invalid(
            f"the yellow threshold must be a whole number of working days >= 0, got {threshold!r}",
            [Problem("must be a whole number >= 0", field="threshold")],
        )
