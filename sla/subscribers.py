"""The clocks react to the engine's domain events (one transaction per event and handler).

Every handler dates what it does by the event's own instant (its office day), not by the worker's
clock, so a late or redelivered event writes the same ledger line.
"""

from __future__ import annotations

from sqlalchemy import select

from engine import events
from engine.db import UnitOfWork
from engine.events import DomainEvent
from engine.models import Case, Task
from sla import clocks
from sla.ledger import Paused, Resumed, Started, Stopped
from sla.models import Clock


def _props(event: DomainEvent) -> dict:
    return dict(event.data.get("properties") or {})


def _whole(raw) -> int | None:
    """A working-day property as a number (lint has refused anything else at deploy)."""
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _finish(uow: UnitOfWork, changed: list[Clock], day) -> None:
    clocks.send_after_commit(uow, clocks.apply(uow, changed, day))


def on_case_started(uow: UnitOfWork, event: DomainEvent) -> None:
    clocks.case_clock(uow, event.case_id)


def start_case_clock(uow: UnitOfWork, clock: Clock, day, actor: str | None, at=None) -> bool:
    """Start the case clock on ``day`` (or the deemed acceptance day, if earlier); False if started."""
    if clock.state != "not_started":
        return False
    case = uow.session.get(Case, clock.case_id)
    if case is not None and case.accepted_on is not None and case.accepted_on < day:
        day = case.accepted_on
    clocks.append(uow, clock, Started(day), actor, at)
    if case is not None and case.accepted_on is None:
        case_table = Case.__table__
        uow.session.execute(case_table.update().where(case_table.c.id == case.id).values(accepted_on=day))
    return True


def on_element_completed(uow: UnitOfWork, event: DomainEvent) -> None:
    what = _props(event).get("clock")
    if what not in ("start", "stop"):
        return
    day = clocks.office_day(event.at)
    clock = clocks.case_clock(uow, event.case_id)
    if what == "start":
        if not start_case_clock(uow, clock, day, event.actor, event.at):
            return
    else:
        if clock.state in ("not_started", "stopped"):
            return
        clocks.append(uow, clock, Stopped(day), event.actor, event.at)
    _finish(uow, [clock], day)


def hold(uow: UnitOfWork, clock: Clock, holder: str, reason: str, day, actor: str | None, at=None) -> bool:
    """Pause for ``holder`` (an element or a special procedure); pauses nest."""
    if clock.state not in ("running", "paused"):
        return False
    holders = list(clock.paused_by or [])
    if holder in holders:
        return False
    if not holders:
        clocks.append(uow, clock, Paused(day, reason), actor, at)
    clock.paused_by = [*holders, holder]
    return True


def release(uow: UnitOfWork, clock: Clock, holder: str, day, actor: str | None, at=None) -> bool:
    holders = list(clock.paused_by or [])
    if holder not in holders:
        return False
    holders.remove(holder)
    clock.paused_by = holders
    if not holders and clock.state == "paused":
        clocks.append(uow, clock, Resumed(day), actor, at)
    return True


def on_case_waiting(uow: UnitOfWork, event: DomainEvent) -> None:
    if _props(event).get("clock") != "pause":
        return
    day = clocks.office_day(event.at)
    clock = clocks.case_clock(uow, event.case_id)
    if hold(uow, clock, f"element:{event.element_id}", event.element_id or "pause", day, event.actor, event.at):
        _finish(uow, [clock], day)


def on_case_resumed(uow: UnitOfWork, event: DomainEvent) -> None:
    day = clocks.office_day(event.at)
    clock = clocks.case_clock(uow, event.case_id, create=False)
    if clock is not None and release(uow, clock, f"element:{event.element_id}", day, event.actor, event.at):
        _finish(uow, [clock], day)


def on_case_ended(uow: UnitOfWork, event: DomainEvent) -> None:
    day = clocks.office_day(event.at)
    stmt = select(Clock).where(Clock.case_id == event.case_id).order_by(Clock.id)
    rows = list(uow.session.scalars(stmt.with_for_update() if uow.is_postgres else stmt))
    changed = []
    for clock in rows:
        if clock.state in ("running", "paused"):
            clocks.append(uow, clock, Stopped(day), event.actor, event.at)
            changed.append(clock)
    if changed:
        clocks.apply(uow, changed, day, alerts=False)


def on_task_created(uow: UnitOfWork, event: DomainEvent) -> None:
    group = event.data.get("group")
    case_clock = clocks.case_clock(uow, event.case_id)
    if group and case_clock.state != "stopped":  # the department answering for the case (not issuance)
        case_clock.group = group
    budget = _whole(_props(event).get("dueWorkingDays"))
    if budget is None or event.task_id is None or clocks.step_clock(uow, event.case_id, event.task_id):
        return
    _start_step_clock(uow, event, event.task_id, event.element_id, group, budget, case_clock)


def _start_step_clock(uow: UnitOfWork, event: DomainEvent, task_id: str, element_id: str | None,
                      group: str | None, budget: int, case_clock: Clock) -> None:
    day = clocks.office_day(event.at)
    clock = Clock(case_id=event.case_id, step=task_id, element_id=element_id, group=group,
                  service_code=case_clock.service_code, budget=budget, state="not_started", paused_by=[],
                  level="green", threshold=_whole(_props(event).get("warningWorkingDays")))
    uow.session.add(clock)
    uow.session.flush()
    clocks.append(uow, clock, Started(day), event.actor, event.at)
    # A step already finished when its creation is handled (the workers lag behind the desk: the
    # intake step, yellow from its first day, is often done within seconds) warns nobody: its end
    # event stops the clock next, and a warning about a finished step is a false alarm.
    finished = uow.session.scalar(select(Task.state).where(Task.id == task_id)) not in ("open", "claimed")
    clocks.send_after_commit(uow, clocks.apply(uow, [clock], day, alerts=not finished))


def on_task_ended(uow: UnitOfWork, event: DomainEvent) -> None:
    if event.task_id is None:
        return
    clock = clocks.step_clock(uow, event.case_id, event.task_id)
    if clock is None or clock.state == "stopped":
        return
    day = clocks.office_day(event.at)
    clocks.append(uow, clock, Stopped(day), event.actor, event.at)
    clocks.apply(uow, [clock], day, alerts=False)


def on_case_migrated(uow: UnitOfWork, event: DomainEvent) -> None:
    """A case moved to another version of its process: its step clocks (keyed by task id, which does
    not change) take the new element and department, a pause held by a wait that still waits under
    another id is held by its new id (a wait that ended resumes by its own ``case_resumed``). The
    ledgers stay as they are: the time already counted was counted. An open step the new version
    gives a limit it had none of starts its clock on the migration's day."""
    moved = {m["task_id"]: m["to"] for m in event.data.get("moves") or []}
    groups = dict(event.data.get("groups") or {})
    renamed = dict(event.data.get("waits") or {})
    stmt = select(Clock).where(Clock.case_id == event.case_id).order_by(Clock.id)
    timed = set()
    for clock in uow.session.scalars(stmt.with_for_update() if uow.is_postgres else stmt):
        timed.add(clock.step)
        if clock.step in moved:
            clock.element_id = moved[clock.step]
            clock.group = groups.get(clock.step) or clock.group
        holders = list(clock.paused_by or [])
        renamed_holders = [f"element:{renamed.get(h[8:], h[8:])}" if h.startswith("element:") else h for h in holders]
        if renamed_holders != holders:
            clock.paused_by = renamed_holders
    uow.session.flush()
    # an open step the new version limits that had no limit starts its clock now (the migration's day)
    for task_id, raw in (event.data.get("step_limits") or {}).items():
        if task_id not in timed and task_id in moved and str(raw).strip().isdigit() and int(raw) > 0:
            _start_step_clock(uow, event, task_id, moved[task_id], groups.get(task_id), int(raw),
                              clocks.case_clock(uow, event.case_id))


def register() -> None:
    events.subscribe(events.CASE_STARTED, "sla.case_started", on_case_started)
    events.subscribe(events.ELEMENT_COMPLETED, "sla.element_completed", on_element_completed)
    events.subscribe(events.CASE_WAITING, "sla.case_waiting", on_case_waiting)
    events.subscribe(events.CASE_RESUMED, "sla.case_resumed", on_case_resumed)
    events.subscribe(events.CASE_ENDED, "sla.case_ended", on_case_ended)
    events.subscribe(events.TASK_CREATED, "sla.task_created", on_task_created)
    events.subscribe(events.TASK_COMPLETED, "sla.task_completed", on_task_ended)
    events.subscribe(events.TASK_CANCELLED, "sla.task_cancelled", on_task_ended)
    events.subscribe(events.CASE_MIGRATED, "sla.case_migrated", on_case_migrated)
