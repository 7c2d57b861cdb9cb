"""Domain events: recorded in the case history inside the transaction, handed out after commit.

Feature packages subscribe with :func:`subscribe`; the engine never imports them.

Handlers need not care about order or repeats, because they never see either: a case's events are
handled one case at a time, in the order they happened. The :func:`deliver` actor takes an event id
and, under a lock on that case's stream, hands every event of the case up to that one that some
subscriber has not recorded yet (``event_deliveries``) to that subscriber, oldest first, in one
transaction. A message that arrives early (a completion before its creation) handles the earlier
events first; one that arrives late or twice finds them recorded and does nothing. Why this rather
than upserts in every handler: a clock is an append-only ledger whose lines must follow the case's
order (start, pause, resume, stop); per-case serial handling keeps every handler written in that
order, and the lock costs one statement per message. Event ids within a case follow commit order,
because every state change holds the case row's lock while it writes them.

After commit, one message per case touched is sent (the newest event id covers the older ones). A
send that fails (the broker down or frozen: ``engine/broker.py`` bounds how long it may take) is
left to the outbox (``engine/outbox.py``), which hands out again, with backoff, every event not yet
recorded by all its subscribers, however the broker lost it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select, text

from engine import clock, metrics
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
CASE_MIGRATED = "case_migrated"  # moved to another version of its process (engine.migration)
DOMAIN_KINDS = {
    CASE_STARTED, TASK_CREATED, TASK_COMPLETED, TASK_CANCELLED, CASE_WAITING, CASE_RESUMED, CASE_ENDED,
    ELEMENT_COMPLETED, CASE_MIGRATED,
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
STREAM_LOCK_SPACE = 0x6F77  # the first key of the two-key advisory locks on case streams ("ow")
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
    if domain:
        # the id exists once the unit of work has flushed at commit; no flush per event here
        _send_after_commit(uow, case_id, kind, lambda: event.id)
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
            if kind in DOMAIN_KINDS:
                _send_after_commit(self.uow, self.case_id, kind, event_id)


def _send_after_commit(uow: UnitOfWork, case_id: int, kind: str, event_id: int | Callable[[], int]) -> None:
    """Remember the case's domain event; once committed, one message per case hands out the newest."""
    outgoing: dict[int, list] = uow.notes.setdefault(__name__, {})
    if not outgoing:
        uow.after_commit(partial(_committed, outgoing))
    outgoing.setdefault(case_id, []).append((kind, event_id))


def _committed(outgoing: dict[int, list]) -> None:
    metrics.count_state_changes(kind for pairs in outgoing.values() for kind, _ in pairs)
    if not _subscribers:
        return
    for pairs in outgoing.values():
        if not send(max(i() if callable(i) else i for _, i in pairs)):
            return  # the broker is down or frozen: one wait per request at most, the outbox sends the rest


def send(event_id: int) -> bool:
    """Hand an event to the broker; False when the broker could not take it (the outbox will)."""
    try:
        deliver.send(event_id)
        return True
    except Exception as exc:
        log.warning("could not hand event %s to the broker (%s: %s); the outbox will", event_id,
                    type(exc).__name__, exc)
        return False


@actor(max_retries=10, min_backoff=500, max_backoff=60_000, on_retry_exhausted="engine_delivery_failed")
def deliver(event_id: int) -> None:
    if _database is None:
        raise RuntimeError("engine.events.bind_database was not called")
    handle_through(_database, event_id)


def handle_through(db: Database, event_id: int) -> int:
    """Hand each event of ``event_id``'s case up to it, oldest first, to every subscriber that has not
    recorded it; one transaction, the case's stream locked. Returns the (event, subscriber) pairs run.
    """
    with db.unit_of_work() as uow:
        session = uow.session
        case_id = session.scalar(select(CaseEvent.case_id).where(CaseEvent.id == event_id))
        if case_id is None:
            return 0
        _lock_stream(uow, case_id)
        rows = list(session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.id <= event_id, CaseEvent.domain.is_(True),
            CaseEvent.delivered_at.is_(None)).order_by(CaseEvent.id)))
        if not rows:
            return 0
        recorded = set(session.execute(select(EventDelivery.event_id, EventDelivery.handler)
                                       .where(EventDelivery.event_id.in_([r.id for r in rows]))).all())
        now = clock.now()
        ran = 0
        for row in rows:
            event = DomainEvent(row.id, row.kind, row.case_id, row.actor, row.at, row.element_id,
                                row.task_id, dict(row.data or {}))
            for name, handler in _subscribers.get(row.kind, []):
                if (row.id, name) in recorded:
                    continue
                handler(uow, event)
                session.add(EventDelivery(event_id=row.id, handler=name, at=now))
                ran += 1
            row.delivered_at = now
            if row.dispatched_at is None:
                row.dispatched_at = now
        return ran


def _lock_stream(uow: UnitOfWork, case_id: int) -> None:
    """One handler run per case at a time. PostgreSQL: a transaction-level advisory lock keyed by the
    case (not the case row, which caseworkers lock for their changes). SQLite: the transaction
    already holds the database's write lock (BEGIN IMMEDIATE)."""
    if uow.is_postgres:
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:space, :case_id)"),
                            {"space": STREAM_LOCK_SPACE, "case_id": case_id})
