"""A time limit as a budget of working days with an append-only ledger of what happened to it.

The law does not count the applicant's correction time or special procedures (特别程序), and an office
head may extend a limit (延期). A deadline is therefore never stored as a fixed date: it is read from
the budget and the ledger, in the calendar of the day, by :func:`read_clock`. The same reading serves
case clocks and step clocks.

Counting rules:
- counting starts the day after ``Started.on`` (day 1 is the first working day after it);
- the working days from the day after a pause through the resume day are not counted, so a pause
  moves the due date later by the working days in (pause day, resume day];
- a pause that begins after the due date has passed does not move it: pausing must not hide an
  overdue clock from supervision;
- an open pause is projected as if resumed today; extensions add working days to the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from engine.errors import Invalid, Problem
from sla.calendar import DueDate, WorkingCalendar


@dataclass(frozen=True)
class Started:
    on: date


@dataclass(frozen=True)
class Paused:
    on: date
    reason: str


@dataclass(frozen=True)
class Resumed:
    on: date


@dataclass(frozen=True)
class Extended:
    """An approved extension; ``on`` is the approval date (it must precede the deadline)."""

    on: date
    working_days: int
    reason: str
    approver: str


@dataclass(frozen=True)
class Stopped:
    on: date


Entry = Started | Paused | Resumed | Extended | Stopped


class ClockState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ClockReading:
    """What a clock says on ``today``.

    ``budget`` includes extensions. ``used`` counts working days after the start, pauses excluded,
    up to today (or the stop day); ``remaining`` is ``budget - used`` and is negative once the budget
    is overspent. ``due`` is None before the clock starts.
    """

    state: ClockState
    due: DueDate | None
    budget: int
    used: int
    remaining: int
    paused_working_days: int
    started_on: date | None = None
    stopped_on: date | None = None
    paused_since: date | None = None

    @property
    def provisional(self) -> bool:
        return self.due is not None and self.due.provisional


def validate_entries(budget: int, entries: Sequence[Entry]) -> None:
    """Check the budget and the ledger's order; raises Invalid listing each problem.

    One start first; dates never go back; a resume only after a pause; nothing after a stop;
    reasons and approvers given; extensions of at least one working day.
    """
    problems: list[Problem] = []

    def problem(index: int | None, message: str) -> None:
        problems.append(Problem(message, field=f"entries[{index}]" if index is not None else "budget"))

    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        problem(None, f"budget must be a whole number of working days >= 0, got {budget!r}")
    state = ClockState.NOT_STARTED
    previous: date | None = None
    for index, entry in enumerate(entries):
        name = type(entry).__name__.lower()
        if previous is not None and entry.on < previous:
            problem(index, f"{name} on {entry.on} is dated before the entry preceding it ({previous})")
        previous = entry.on
        if state is ClockState.STOPPED:
            problem(index, f"{name} after the clock stopped")
            continue
        if isinstance(entry, Started):
            if state is not ClockState.NOT_STARTED:
                problem(index, "the clock is already started")
            state = ClockState.RUNNING
        elif state is ClockState.NOT_STARTED:
            problem(index, f"{name} before the clock started")
        elif isinstance(entry, Paused):
            if state is ClockState.PAUSED:
                problem(index, "the clock is already paused")
            if not entry.reason.strip():
                problem(index, "a pause needs a reason")
            state = ClockState.PAUSED
        elif isinstance(entry, Resumed):
            if state is not ClockState.PAUSED:
                problem(index, "resumed without a pause")
            state = ClockState.RUNNING
        elif isinstance(entry, Extended):
            if entry.working_days < 1:
                problem(index, f"an extension adds at least one working day, got {entry.working_days}")
            if not entry.reason.strip():
                problem(index, "an extension needs a reason")
            if not entry.approver.strip():
                problem(index, "an extension needs its approver")
        elif isinstance(entry, Stopped):
            state = ClockState.STOPPED
    if problems:
        raise Invalid("invalid clock ledger", problems)


def read_clock(
    calendar: WorkingCalendar,
    budget: int,
    entries: Sequence[Entry],
    today: date,
    *,
    provisional: bool = False,
) -> ClockReading:
    """The clock's state, due date and working days used and remaining, as of ``today``.

    Entries dated after ``today`` are not yet in force (so a ledger can be replayed day by day).
    Raises Invalid for a ledger out of order, YearNotCovered when the count reaches a year without
    data unless ``provisional``.
    """
    validate_entries(budget, entries)
    entries = [entry for entry in entries if entry.on <= today]
    if not entries:
        return ClockReading(ClockState.NOT_STARTED, None, budget, 0, budget, 0)

    start = entries[0].on
    total = budget + sum(e.working_days for e in entries if isinstance(e, Extended))
    stopped_on = next((e.on for e in entries if isinstance(e, Stopped)), None)
    end = stopped_on or today
    pauses, open_pause = _pauses(entries, end)

    due = calendar.add_working_days(start, total, provisional=provisional)
    marked = due.provisional
    paused_days = 0
    for paused_on, resumed_on in pauses:
        skipped = calendar.working_days_between(paused_on, resumed_on, provisional=provisional)
        paused_days += skipped
        if paused_on <= due.date:
            due = calendar.add_working_days(due.date, skipped, provisional=provisional)
            marked = marked or due.provisional
    used = calendar.working_days_between(start, end, provisional=provisional) - paused_days
    marked = marked or calendar.is_provisional_span(start, end)

    if stopped_on is not None:
        state = ClockState.STOPPED
    elif open_pause is not None:
        state = ClockState.PAUSED
    else:
        state = ClockState.RUNNING
    return ClockReading(
        state=state,
        due=DueDate(due.date, marked, calendar.version),
        budget=total,
        used=used,
        remaining=total - used,
        paused_working_days=paused_days,
        started_on=start,
        stopped_on=stopped_on,
        paused_since=open_pause if state is ClockState.PAUSED else None,
    )


def check_extension(
    calendar: WorkingCalendar,
    budget: int,
    entries: Sequence[Entry],
    extension: Extended,
    *,
    provisional: bool = False,
) -> None:
    """Refuse an extension the law does not allow: before the start, after the stop or the deadline.

    Call before appending; raises Invalid.
    """
    validate_entries(budget, [*entries, extension])
    reading = read_clock(calendar, budget, entries, extension.on, provisional=provisional)
    if reading.due is not None and extension.on > reading.due.date:
        raise Invalid(
            f"an extension must be approved by the due date {reading.due.date}, not on {extension.on}",
            [Problem("approved after the due date", field="on")],
        )


def _pauses(entries: Sequence[Entry], end: date) -> tuple[list[tuple[date, date]], date | None]:
    """Each pause as (paused on, resumed on), and the open pause's day if any.

    An open pause ends at ``end`` (today, or the stop day) for counting.
    """
    spans: list[tuple[date, date]] = []
    paused_on: date | None = None
    for entry in entries:
        if isinstance(entry, Paused):
            paused_on = entry.on
        elif isinstance(entry, Resumed) and paused_on is not None:
            spans.append((paused_on, entry.on))
            paused_on = None
    if paused_on is not None:
        spans.append((paused_on, end))
    return spans, paused_on
