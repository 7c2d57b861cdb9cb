"""Clocks in the store: create, append to the ledger, and write their reading where others read it.

Every change goes through :func:`apply`: replay the ledger (:func:`sla.ledger.read_clock`), grade it
(:func:`sla.levels.clock_level`), store due / warn / check dates and the level on the clock, copy
them to ``cases`` (case clock) or ``tasks`` (step clock), and raise the alerts the level calls for.
Services receive the unit of work and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock as engine_clock
from engine import office
from engine.db import UnitOfWork
from engine.models import Case, CaseEvent, Task
from sla import runtime
from sla.calendar import WorkingCalendar
from sla.escalation import Escalation
from sla.ledger import ClockReading, ClockState, Entry, Extended, Paused, Resumed, Started, Stopped, read_clock
from sla.levels import clock_level
from sla.models import CASE_STEP, Clock, ClockEntry

DEFAULT_PROMISED = 20
_KINDS = {Started: "started", Paused: "paused", Resumed: "resumed", Extended: "extended", Stopped: "stopped"}


def office_day(instant: datetime) -> date:
    return instant.astimezone(office.zone).date()


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` in the office's zone, as a UTC instant (for Task.due_at)."""
    return datetime.combine(day, time(23, 59, 59), office.zone).astimezone(UTC)


def to_entry(row: Any) -> Entry:
    if row.kind == "started":
        return Started(row.day)
    if row.kind == "paused":
        return Paused(row.day, row.reason or "")
    if row.kind == "resumed":
        return Resumed(row.day)
    if row.kind == "extended":
        return Extended(row.day, row.working_days or 0, row.reason or "", row.approver or "")
    return Stopped(row.day)


def ledger(session, clock_ids: list[int]) -> dict[int, list[Any]]:
    """Each clock's ledger lines in order (plain rows with ClockEntry's column names)."""
    out: dict[int, list[Any]] = {i: [] for i in clock_ids}
    if clock_ids:
        table = ClockEntry.__table__
        for row in session.execute(select(table).where(table.c.clock_id.in_(clock_ids)).order_by(table.c.id)):
            out[row.clock_id].append(row)
    return out


def limits_from(data: dict[str, Any]) -> tuple[int, int | None, int | None]:
    """(promised, statutory, yellow threshold) from a case_started event's data."""
    props = data.get("process_properties") or {}

    def whole(value: Any) -> int | None:
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    promised = whole(data.get("promised_working_days")) or whole(props.get("promisedWorkingDays")) or DEFAULT_PROMISED
    return promised, whole(data.get("statutory_working_days")), whole(data.get("warning_working_days"))


def _locked(uow: UnitOfWork, stmt):
    if uow.is_postgres:
        stmt = stmt.with_for_update()
    return uow.session.scalar(stmt.execution_options(populate_existing=True))


def case_clock(uow: UnitOfWork, case_id: int, *, create: bool = True) -> Clock | None:
    """The case clock, locked; created from the case_started event's limits when missing."""
    found = _locked(uow, select(Clock).where(Clock.case_id == case_id, Clock.step == CASE_STEP))
    if found is not None or not create:
        return found
    started = uow.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.kind == "case_started").limit(1))
    case = uow.session.get(Case, case_id)
    promised, statutory, threshold = limits_from(dict(started.data or {}) if started else {})
    # An upsert: a supervisor's action (sla/actions.py) may create the case clock while an event
    # handler does; the second insert does nothing and both go on with the one row.
    table = Clock.__table__
    insert = (postgresql.insert if uow.is_postgres else sqlite.insert)(table)
    uow.session.execute(insert.values(
        case_id=case_id, step=CASE_STEP, budget=promised, statutory_budget=statutory, threshold=threshold,
        service_code=case.service_code if case else None, state="not_started", paused_by=[], level="green",
        provisional=False, updated_at=engine_clock.now()).on_conflict_do_nothing(index_elements=["case_id", "step"]))
    return _locked(uow, select(Clock).where(Clock.case_id == case_id, Clock.step == CASE_STEP))


def step_clock(uow: UnitOfWork, case_id: int, task_id: str) -> Clock | None:
    return _locked(uow, select(Clock).where(Clock.case_id == case_id, Clock.step == task_id))


def append(uow: UnitOfWork, clock: Clock, entry: Entry, actor: str | None, at: datetime | None = None) -> None:
    """Append one ledger line (the ledger is never rewritten); ``at``: when it happened (default now)."""
    extra: dict[str, Any] = {}
    if isinstance(entry, Paused):
        extra["reason"] = entry.reason
    if isinstance(entry, Extended):
        extra.update(reason=entry.reason, working_days=entry.working_days, approver=entry.approver)
    uow.session.add(ClockEntry(clock_id=clock.id, kind=_KINDS[type(entry)], day=entry.on, actor=actor,
                               at=at or engine_clock.now(), **extra))
    uow.session.flush()


@dataclass
class Computed:
    reading: ClockReading
    level: str
    statutory_due: date | None
    warn_date: date | None
    check_on: date | None
    overdue: int


def warn_date_of(calendar: WorkingCalendar, due: date, threshold: int, floor: date) -> date:
    """The first day on which the working days left in (day, due] are at most ``threshold``."""
    day = due
    while day > floor and calendar.working_days_between(day - timedelta(days=1), due, provisional=True) <= threshold:
        day -= timedelta(days=1)
    return day


def compute(calendar: WorkingCalendar, escalation: Escalation, clock: Clock, entries: list[Entry],
            today: date) -> Computed:
    """The clock's reading, level and next dates on ``today`` (pure: no session)."""
    reading = read_clock(calendar, clock.budget, entries, today, provisional=True)
    threshold = (escalation.threshold(clock.service_code, clock.threshold) if clock.step == CASE_STEP
                 else escalation.step_threshold(clock.threshold))
    level = clock_level(calendar, reading, today, threshold=threshold, provisional=True).value
    statutory = None
    if clock.statutory_budget is not None and reading.due is not None:
        statutory = read_clock(calendar, clock.statutory_budget, entries, today, provisional=True).due.date
    warn = check = None
    overdue = 0
    if reading.due is not None and reading.state in (ClockState.RUNNING, ClockState.PAUSED):
        due = reading.due.date
        warn = warn_date_of(calendar, due, threshold, reading.started_on or due)
        if today > due:
            overdue = calendar.working_days_between(due, today, provisional=True)
        if reading.state is ClockState.PAUSED:
            check = today + timedelta(days=1)  # the projected due date moves every paused day
        elif level == "green":
            check = warn
        elif level == "yellow":
            check = due + timedelta(days=1)
        else:
            step = next((n for n in escalation.next_red_steps() if overdue <= n), None)
            check = calendar.add_working_days(due, step + 1, provisional=True).date if step is not None else None
    return Computed(reading, level, statutory, warn, check, overdue)


def values_of(clock: Clock, c: Computed, calendar_version: str) -> dict[str, Any]:
    r = c.reading
    return {
        "id": clock.id, "state": r.state.value, "started_on": r.started_on, "stopped_on": r.stopped_on,
        "due_date": r.due.date if r.due else None, "statutory_due_date": c.statutory_due,
        "warn_date": c.warn_date, "check_on": c.check_on, "provisional": r.provisional, "level": c.level,
        "used_working_days": r.used if r.started_on is not None else None,
        "calendar_version": calendar_version, "updated_at": engine_clock.now(),
    }


def write_through(session, rows: list[tuple[Clock, dict[str, Any]]]) -> None:
    """Copy due dates and levels onto cases and tasks (Core updates: no optimistic version bump,
    so a caseworker's form is never refused because the sweep touched its row)."""
    cases = [{"b_id": cl.case_id, "b_due": v["due_date"], "b_stat": v["statutory_due_date"],
              "b_prov": v["provisional"], "b_level": v["level"]}
             for cl, v in rows if cl.step == CASE_STEP]
    tasks = [{"b_id": cl.step, "b_due": end_of_day(v["due_date"]) if v["due_date"] else None, "b_level": v["level"]}
             for cl, v in rows if cl.step != CASE_STEP]
    ct, tt = Case.__table__, Task.__table__
    if cases:
        session.execute(
            update(ct).where(ct.c.id == bindparam("b_id")).values(
                due_date=bindparam("b_due"), statutory_due_date=bindparam("b_stat"),
                due_provisional=bindparam("b_prov"), sla_level=bindparam("b_level")),
            cases)
    if tasks:
        session.execute(update(tt).where(tt.c.id == bindparam("b_id")).values(
            due_at=bindparam("b_due"), sla_level=bindparam("b_level")), tasks)


def apply(uow: UnitOfWork, clocks: list[Clock], today: date, *, alerts: bool = True) -> tuple[list[int], int]:
    """Recompute ``clocks`` on ``today``, store and copy their readings, raise their alerts.

    Returns the ids of deliveries to send once the transaction has committed, and the number of
    alerts raised.
    """
    from sla import alerts as alerting

    rt = runtime.current
    entries = ledger(uow.session, [c.id for c in clocks])
    written: list[tuple[Clock, dict[str, Any]]] = []
    candidates = []
    for cl in clocks:
        computed = compute(rt.calendar, rt.escalation, cl, [to_entry(e) for e in entries[cl.id]], today)
        values = values_of(cl, computed, rt.calendar.version)
        for key, value in values.items():
            if key != "id":
                set_committed_value(cl, key, value)  # written below in one executemany, not by the ORM
        written.append((cl, values))
        if alerts and computed.reading.state in (ClockState.RUNNING, ClockState.PAUSED):
            candidates += alerting.candidates(cl, computed.level, computed.overdue, rt.escalation)
    uow.session.flush()  # whatever the caller changed (ledger lines, holders) goes first
    if written:
        table = Clock.__table__
        uow.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(
                {k: bindparam(f"b_{k}") for k in written[0][1] if k != "id"}),
            [{f"b_{k}": v for k, v in values.items()} for _cl, values in written])
    write_through(uow.session, written)
    return alerting.raise_alerts(uow, candidates) if candidates else ([], 0)


def send_after_commit(uow: UnitOfWork, applied: tuple[list[int], int] | list[int]) -> None:
    delivery_ids = applied[0] if isinstance(applied, tuple) else applied
    if delivery_ids:
        from sla import channels

        uow.after_commit(lambda: channels.send_all(delivery_ids))


def today() -> date:
    return office_day(engine_clock.now())
