"""The outbox: every domain event is handed out again, with backoff, until all its subscribers have
recorded it, and an event that keeps failing is put where an administrator sees it.

The broker can lose a message in many ways: the send after commit failed or timed out, a process died
between commit and send, a retry waited in a Redis that restarted without persistence. None of them
matters here: the scheduler's tick calls :func:`resend_undelivered`, which reads the events not
delivered yet (``case_events.delivered_at`` is null; a partial index holds only those) whose next
attempt is due, and sends one message per case. Each event's attempts double the wait before the
next one (``first_after``, 2x, 4x ... at most ``longest``), so a case whose handler fails for hours
costs a message an hour, not a message a minute.

Dramatiq retries a failing delivery itself first (``engine.events.deliver``: ``max_retries`` with
backoff); when those are exhausted, ``on_retry_exhausted`` calls :func:`delivery_failed`, which flags
the case for an administrator (``engine/flags.py``) with the error and records it in the history.
The outbox keeps trying at the longest interval, so a fix deployed later still delivers the event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from engine import clock, events
from engine.broker import actor
from engine.db import Database
from engine.models import Case, CaseEvent

log = logging.getLogger(__name__)
FIRST_AFTER = timedelta(seconds=10)
LONGEST = timedelta(minutes=60)
DELIVERY_FAILED = "event_delivery_failed"


def _undelivered():
    return (CaseEvent.domain.is_(True), CaseEvent.delivered_at.is_(None))


def resend_undelivered(db: Database, now: datetime, *, first_after: timedelta = FIRST_AFTER,
                       longest: timedelta = LONGEST, limit: int = 1000) -> int:
    """Send again the undelivered events whose next attempt is due; returns the messages sent.

    An event is first due ``first_after`` after it happened (its own send usually delivers it within
    milliseconds), then after each attempt twice as long as before, at most ``longest``.
    """
    never_tried = CaseEvent.next_attempt_at.is_(None) & (CaseEvent.at <= now - first_after)
    due = (CaseEvent.next_attempt_at <= now) | never_tried
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(CaseEvent.id, CaseEvent.case_id, CaseEvent.attempts).where(*_undelivered(), due)
            .order_by(CaseEvent.id).limit(limit)).all()
        if not rows:
            return 0
        table = CaseEvent.__table__
        uow.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(
                attempts=table.c.attempts + 1, next_attempt_at=bindparam("b_next")),
            [{"b_id": i, "b_next": now + _wait(first_after, longest, attempts or 0)} for i, _case, attempts in rows])
        newest: dict[int, int] = {}
        for event_id, case_id, _attempts in rows:
            newest[case_id] = max(event_id, newest.get(case_id, 0))
    sent = sum(events.send(event_id) for event_id in newest.values())
    if newest:
        log.info("outbox: handed out %d case(s) again (%d event(s) not yet delivered)", sent, len(rows))
    return sent


def _wait(first_after: timedelta, longest: timedelta, attempts: int) -> timedelta:
    """``first_after`` doubled per attempt made, at most ``longest`` (the exponent is capped before it
    can overflow a timedelta: an event can fail for years on a frozen drill clock)."""
    return min(first_after * (2 ** min(attempts, 30)), longest)


@dataclass(frozen=True)
class Depth:
    events: int  # domain events not yet recorded by every subscriber
    oldest_seconds: float  # how long the oldest of them has waited (0 when none)


def depth(db: Database, now: datetime | None = None) -> Depth:
    """How many events wait for delivery and the age of the oldest (what operators watch)."""
    with db.read() as s:
        count, oldest = s.execute(select(func.count(), func.min(CaseEvent.at)).where(*_undelivered())).one()
    now = now or clock.now()
    return Depth(int(count or 0), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


@actor(actor_name="engine_delivery_failed", max_retries=3)
def delivery_failed(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Dramatiq gave up on a delivery: say so on the case, where administrators look."""
    event_id = (message.get("args") or [None])[0]
    trace = ((message.get("options") or {}).get("traceback") or "").strip().splitlines()
    error = trace[-1] if trace else "unknown error"
    if events._database is None or event_id is None:
        raise RuntimeError("engine.events.bind_database was not called")
    record_failure(events._database, int(event_id), error, int(retry_info.get("retries", 0)) + 1)


def record_failure(db: Database, event_id: int, error: str, tries: int) -> bool:
    """Flag the event's case (unless already flagged) and record the failure in its history.
    Returns False when the event is gone or already delivered (a later attempt succeeded)."""
    with db.unit_of_work() as uow:
        row = uow.session.get(CaseEvent, event_id)
        if row is None or row.delivered_at is not None:
            return False
        reason = (f"domain event {event_id} ({row.kind}) not handled after {tries} tries: {error}"[:500])
        events.record(uow, row.case_id, DELIVERY_FAILED, actor="system",
                      data={"event_id": event_id, "kind": row.kind, "tries": tries, "error": error[:500]})
        # Core update: the flag must not make a caseworker's open form stale (no version bump)
        flagged = uow.session.execute(update(Case).where(Case.id == row.case_id, Case.flagged.is_(None))
                                      .values(flagged=reason).execution_options(synchronize_session=False))
        if flagged.rowcount:
            events.record(uow, row.case_id, "case_flagged", actor="system", data={"reason": reason})
    log.error("case %s: %s", row.case_id, reason)
    return True
