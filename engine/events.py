"""Domain events: recorded in the case history inside the transaction, handed out after commit.

Feature packages subscribe with :func:`subscribe`; the engine never imports them. Delivery runs in
a Dramatiq actor, one transaction per (event, handler), recorded in ``event_deliveries`` so a
redelivered message does nothing twice. A crash between commit and send leaves the event
undispatched; :func:`redispatch_pending` (called by every tick) sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.broker import actor
from engine.db import Database, UnitOfWork
from engine.models import CaseEvent, EventDelivery

log = logging.getLogger(__name__)

CASE_STARTED = "case_started"
TASK_CREATED = "task_created"
TASK_COMPLETED = "task_completed"
TASK_CANCELLED = "task_cancelled"
CASE_WAITING = "case_waiting"
CASE_RESUMED = "case_resumed"
CASE_ENDED = "case_ended"
ELEMENT_COMPLETED = "element_completed"
DOMAIN_KINDS = {
    CASE_STARTED, TASK_CREATED, TASK_COMPLETED, TASK_CANCELLED, CASE_WAITING, CASE_RESUMED, CASE_ENDED,
    ELEMENT_COMPLETED,
}


@dataclass(frozen=True)
class DomainEvent:
    id: int
    kind: str
    case_id: int
    actor: str | None
    at: Any
    element_id: str | None
    task_id: str | None
    data: dict[str, Any]


Handler = Callable[[UnitOfWork, DomainEvent], None]
_subscribers: dict[str, list[tuple[str, Handler]]] = {}
_database: Database | None = None


def bind_database(db: Database) -> None:
    """The actor needs a database; the composition root hands it over."""
    global _database
    _database = db


def subscribe(kind: str, name: str, handler: Handler) -> None:
    """Register ``handler`` under a stable ``name`` (the idempotency key) for events of ``kind``."""
    handlers = _subscribers.setdefault(kind, [])
    if any(n == name for n, _ in handlers):
        return
    handlers.append((name, handler))


def record(uow: UnitOfWork, case_id: int, kind: str, *, actor: str | None = None,
           element_id: str | None = None, task_id: str | None = None,
           data: dict[str, Any] | None = None) -> CaseEvent:
    """Append to the case history; domain events are sent after the commit."""
    domain = kind in DOMAIN_KINDS
    event = CaseEvent(
        case_id=case_id, kind=kind, actor=actor, at=clock.now(), element_id=element_id,
        task_id=task_id, data=data or {}, domain=domain,
    )
    uow.session.add(event)
    if domain and _subscribers.get(kind):
        # the id exists once the unit of work has flushed at commit; no flush per event here
        uow.after_commit(lambda: _send(event.id))
    return event


class Batch:
    """History rows of one state change, written with it by ``engine.store.write`` instead of one
    ORM object each; :meth:`written` sends the domain events after commit, as :func:`record` does."""

    def __init__(self, uow: UnitOfWork, case_id: int):
        self.uow, self.case_id = uow, case_id
        self.rows: list[dict[str, Any]] = []

    def add(self, kind: str, *, actor: str | None = None, element_id: str | None = None,
            task_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.rows.append({"case_id": self.case_id, "kind": kind, "actor": actor, "at": clock.now(),
                          "element_id": element_id, "task_id": task_id, "data": data or {},
                          "domain": kind in DOMAIN_KINDS})

    def written(self, added: list[tuple[int, str]]) -> None:
        """``added``: (id, kind) of each row as written."""
        self.rows = []
        for event_id, kind in added:
            if kind in DOMAIN_KINDS and _subscribers.get(kind):
                self.uow.after_commit(partial(_send, event_id))


def _send(event_id: int) -> None:
    try:
        deliver.send(event_id)
    except Exception:  # the tick re-sends what a broker outage left behind
        log.exception("could not hand event %s to the broker", event_id)


@actor(max_retries=10, min_backoff=500, max_backoff=60_000)
def deliver(event_id: int) -> None:
    if _database is None:
        raise RuntimeError("engine.events.bind_database was not called")
    with _database.unit_of_work() as uow:
        row = uow.session.get(CaseEvent, event_id)
        if row is None:
            return
        event = DomainEvent(row.id, row.kind, row.case_id, row.actor, row.at, row.element_id,
                            row.task_id, dict(row.data or {}))
        if row.dispatched_at is None:
            row.dispatched_at = clock.now()
    for name, handler in _subscribers.get(event.kind, []):
        with _database.unit_of_work() as uow:
            done = uow.session.get(EventDelivery, (event_id, name))
            if done is not None:
                continue
            handler(uow, event)
            uow.session.add(EventDelivery(event_id=event_id, handler=name, at=clock.now()))


def redispatch_pending(session: Session, older_than: timedelta = timedelta(seconds=30)) -> list[int]:
    """Domain events committed but never handed out (a crash after commit): send them again."""
    cutoff = clock.now() - older_than
    kinds = [k for k, subs in _subscribers.items() if subs]
    if not kinds:
        return []
    ids = list(
        session.scalars(
            select(CaseEvent.id).where(
                CaseEvent.domain.is_(True), CaseEvent.dispatched_at.is_(None),
                CaseEvent.kind.in_(kinds), CaseEvent.at <= cutoff,
            ).limit(1000)
        )
    )
    return ids


def send_all(ids: list[int]) -> None:
    for event_id in ids:
        _send(event_id)
