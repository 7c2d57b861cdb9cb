"""Thrown messages reach the cases waiting for them, or start a case at a message start event.

A send task, an intermediate throw event or an end event throws a message by name, with a payload
and a correlation key (``engine.spiff.messages``). In the thrower's unit of work it is delivered to
every other running case waiting for that name with the same key (no key: the cases waiting without
one); when none waits, the latest version of each process whose start event catches the name starts
a case with it. Each delivery is the same state change as ``POST /api/cases/{no}/messages/{name}``,
and may throw further messages, up to :data:`MAX_DEPTH` deliveries deep (a loop of cases messaging
each other stops there with an error rather than running forever). What found no taker is recorded
on the thrower's history, so nothing goes nowhere silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from engine import events
from engine.db import UnitOfWork
from engine.errors import Conflict
from engine.models import Case, MessageWait, ProcessDefinition
from engine.spiff import runtime
from engine.spiff.messages import Thrown

MAX_DEPTH = 8

Deliver = Callable[[int, str, Any, int], Case]
Start = Callable[[ProcessDefinition, str, Any, int], Case]


def sync_waits(uow: UnitOfWork, case: Case, wf: Any, status: str, summary: dict[str, Any]) -> None:
    """Keep the case's rows in ``message_waits`` equal to what it waits for now (none once it ends)."""
    wanted = {(s.task_id, s.name): s.key for s in runtime.message_subscriptions(wf)} if status == "running" else {}
    if not wanted and not summary.get("messages"):
        return  # nothing waited before, nothing now: spare the query (the hot path)
    summary["messages"] = len(wanted)
    session = uow.session
    rows = session.scalars(select(MessageWait).where(MessageWait.case_id == case.id))
    current = {(w.task_id, w.name): w for w in rows}
    for key, row in current.items():
        if key not in wanted:
            session.delete(row)
        elif row.correlation_key != wanted[key]:
            row.correlation_key = wanted[key]
    for (task_id, name), correlation_key in wanted.items():
        if (task_id, name) not in current:
            session.add(MessageWait(task_id=task_id, name=name, case_id=case.id, correlation_key=correlation_key))
    session.flush()


def _waiting_cases(uow: UnitOfWork, message: Thrown, thrower_id: int) -> list[int]:
    key = MessageWait.correlation_key
    matches = key.is_(None) if message.key is None else key == message.key
    found = uow.session.scalars(select(MessageWait.case_id).where(
        MessageWait.name == message.name, matches, MessageWait.case_id != thrower_id).distinct())
    return sorted(found)


def _starting_definitions(uow: UnitOfWork, name: str) -> list[ProcessDefinition]:
    latest: dict[str, ProcessDefinition] = {}
    for d in uow.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)):
        latest[d.process_id] = d
    return [d for d in latest.values() if name in (d.start_messages or [])]


def dispatch(uow: UnitOfWork, thrower: Case, thrown: list[Thrown], actor: str, depth: int, *,
             deliver: Deliver, start: Start) -> None:
    """Deliver each thrown message (see the module); records ``message_thrown`` on the thrower."""
    for message in thrown:
        if depth >= MAX_DEPTH:
            raise Conflict(f"message '{message.name}' from {message.element_id} would be delivery {depth + 1} "
                           "in a chain of cases messaging each other; the chain is stopped")
        delivered, started = [], []
        for case_id in _waiting_cases(uow, message, thrower.id):
            delivered.append(deliver(case_id, message.name, message.payload, depth + 1).case_no)
        if not delivered:
            for definition in _starting_definitions(uow, message.name):
                started.append(start(definition, message.name, message.payload, depth + 1).case_no)
        events.record(uow, thrower.id, "message_thrown", actor=actor, element_id=message.element_id,
                      data={"name": message.name, "correlation_key": message.key, "delivered_to": delivered,
                            "started": started, "taken": bool(delivered or started)})
