"""The sweep (a tick hook): move clocks to their level, raise alerts, recompute after a calendar change.

Cost follows the clocks that change, not the clocks that are open: each clock stores ``check_on``,
the next day its level or escalation can change, and the sweep reads only ``check_on <= today``
through its index, in chunks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), one transaction per chunk.
A chunk that fails is redone clock by clock so one broken case never stops the rest.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine import events
from engine.db import Database, UnitOfWork
from engine.models import Case
from sla import clocks, runtime
from sla.lock import sweeper_lock
from sla.models import CASE_STEP, Alert, AlertDelivery, Clock, SlaState
from sla.subscribers import start_case_clock

log = logging.getLogger(__name__)


def tick_hook(db: Database, now: datetime) -> dict[str, Any]:
    """The scheduler's hook: one sweep, if no other process is sweeping."""
    with sweeper_lock(db, runtime.current.redis_url) as held:
        if not held:
            return {"skipped": "another process holds the sweep lock"}
        report = sweep(db, now)
        from sla.digest import send_digests

        report["digests"] = send_digests(db, now)
        return report


def sweep(db: Database, now: datetime) -> dict[str, Any]:
    today = clocks.office_day(now)
    report: dict[str, Any] = {"today": today.isoformat()}
    report["recomputed"] = recompute_on_calendar_change(db, today)
    report["started"] = start_deemed_accepted(db, today)
    report.update(move_changed(db, today))
    report["resent"] = resend_stranded(db, now)
    return report


def resend_stranded(db: Database, now: datetime, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Deliveries committed but never tried (the process stopped before its broker sent them, e.g.
    a one-shot `onewindow tick` on the in-process broker): hand them to the broker again."""
    with db.read() as s:
        ids = list(s.scalars(
            select(AlertDelivery.id).join(Alert, Alert.id == AlertDelivery.alert_id).where(
                AlertDelivery.state == "pending", AlertDelivery.attempts == 0,
                AlertDelivery.channel.in_(("email", "webhook")), Alert.raised_at <= now - older_than)
            .limit(1000)))
    if ids:
        from sla import channels

        channels.send_all(ids)
    return len(ids)


def _apply_chunk(uow: UnitOfWork, rows: list[Clock], today: date) -> tuple[list[int], int, int]:
    """Apply a chunk; on failure redo it clock by clock. Returns (deliveries, alerts, errors)."""
    try:
        with uow.session.begin_nested():
            deliveries, raised = clocks.apply(uow, rows, today)
        return deliveries, raised, 0
    except Exception:
        log.exception("sweeping a chunk of %d clocks failed; retrying one by one", len(rows))
    deliveries, raised, errors = [], 0, 0
    for clock_id in [r.id for r in rows]:
        try:
            with uow.session.begin_nested():
                one = uow.session.get(Clock, clock_id)
                d, n = clocks.apply(uow, [one], today)
            deliveries += d
            raised += n
        except Exception:
            log.exception("sweeping clock %s failed", clock_id)
            errors += 1
            uow.session.execute(update(Clock).where(Clock.id == clock_id)
                                .values(check_on=today + timedelta(days=1)))
    return deliveries, raised, errors


def move_changed(db: Database, today: date) -> dict[str, int]:
    """Every clock whose check date has come: new level, alerts, next check date."""
    moved = raised = errors = 0
    seen: set[int] = set()
    chunk = runtime.current.sweep_chunk
    while True:
        with db.unit_of_work() as uow:
            stmt = select(Clock).where(Clock.check_on <= today).order_by(Clock.check_on, Clock.id).limit(chunk)
            if uow.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(uow.session.scalars(stmt))
            if not rows or all(r.id in seen for r in rows):
                break
            seen.update(r.id for r in rows)
            deliveries, n, e = _apply_chunk(uow, rows, today)
            moved, raised, errors = moved + len(rows) - e, raised + n, errors + e
            clocks.send_after_commit(uow, deliveries)
    return {"clocks_moved": moved, "alerts_raised": raised, "errors": errors}


def start_deemed_accepted(db: Database, today: date) -> int:
    """Intake's rule: a case counts as accepted on ``Case.accepted_on`` (e.g. no correction notice
    within 5 working days): a case clock not started yet starts from that day."""
    started = 0
    with db.unit_of_work() as uow:
        rows = list(uow.session.scalars(
            select(Clock).join(Case, Case.id == Clock.case_id).where(
                Clock.step == CASE_STEP, Clock.state == "not_started", Case.accepted_on.is_not(None),
                Case.status == "running").limit(1000)))
        changed = []
        for clock in rows:
            case = uow.session.get(Case, clock.case_id)
            if start_case_clock(uow, clock, case.accepted_on, "system"):
                events.record(uow, case.id, "clock_started", actor="system",
                              data={"on": case.accepted_on.isoformat(), "why": "accepted_on"})
                changed.append(clock)
                started += 1
        if changed:
            clocks.send_after_commit(uow, clocks.apply(uow, changed, today))
    return started


def recompute_on_calendar_change(db: Database, today: date) -> int:
    """When the calendar's data changed, recompute every open deadline and say so in the history."""
    rt = runtime.current
    rt.reload_calendar()
    version = rt.calendar.version
    with db.unit_of_work() as uow:
        state = uow.session.get(SlaState, "calendar")
        if state is not None and (state.value or {}).get("version") == version:
            return 0
    return recompute_all(db, today)


def recompute_all(db: Database, today: date) -> int:
    """Recompute open clocks computed under another calendar version; returns the cases whose dates moved."""
    version = runtime.current.calendar.version
    moved_cases: set[int] = set()
    while True:
        with db.unit_of_work() as uow:
            rows = list(uow.session.scalars(
                select(Clock).where(Clock.state.in_(("running", "paused")),
                                    (Clock.calendar_version != version) | Clock.calendar_version.is_(None))
                .order_by(Clock.id).limit(runtime.current.sweep_chunk)))
            if not rows:
                _record_calendar_version(uow, version)
                break
            before = {r.id: (r.due_date, r.statutory_due_date, r.calendar_version) for r in rows}
            applied = clocks.apply(uow, rows, today)
            for r in rows:
                old_due, old_stat, old_version = before[r.id]
                if (r.due_date, r.statutory_due_date) != (old_due, old_stat):
                    moved_cases.add(r.case_id)
                    events.record(uow, r.case_id, "deadline_recomputed", actor="system",
                                  element_id=r.element_id, task_id=r.step or None, data={
                                      "from": old_due.isoformat() if old_due else None,
                                      "to": r.due_date.isoformat() if r.due_date else None,
                                      "statutory_to": r.statutory_due_date.isoformat() if r.statutory_due_date
                                      else None,
                                      "calendar_from": old_version, "calendar_to": version})
            clocks.send_after_commit(uow, applied)
    return len(moved_cases)


def _record_calendar_version(uow: UnitOfWork, version: str) -> None:
    """Remember the calendar version every open clock is now computed under. Two sweeps that run at
    once (the lock is off, or two offices' schedulers) may both find no row: the second insert then
    fails on the key, inside its own savepoint, and that sweep goes on with the row the first wrote."""
    state = uow.session.get(SlaState, "calendar")
    if state is None:
        try:
            with uow.session.begin_nested():
                uow.session.add(SlaState(key="calendar", value={"version": version}))
            return
        except IntegrityError:
            state = uow.session.get(SlaState, "calendar", populate_existing=True)
    previous = (state.value or {}).get("version")
    if previous != version:
        state.value = {"version": version, "previous": previous}
