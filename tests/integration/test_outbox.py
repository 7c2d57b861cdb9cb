"""The outbox hands out undelivered events again with backoff, and flags a case whose event keeps failing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import broker, cases, clock, events, outbox
from engine.identity import Actor
from engine.models import Case, CaseEvent
from tests.conftest import deploy_reference

DESK = Actor("window1", frozenset({"front_desk"}))


def _start(app) -> int:
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        return cases.start_case(uow, "one_window", {"category": "food"}, DESK).id


def _events(db, case_id: int) -> list[CaseEvent]:
    with db.read() as s:
        return list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.domain.is_(True))
                              .order_by(CaseEvent.id)))


def test_undelivered_events_are_handed_out_again_with_doubling_waits(sqlite_app, monkeypatch):
    db = sqlite_app.extensions["onewindow.db"]
    deploy_reference(sqlite_app)
    sent: list[int] = []
    # Given a case whose events the broker lost (the send after commit failed)
    monkeypatch.setattr(events.deliver, "send", lambda event_id: (_ for _ in ()).throw(ConnectionError("down")))
    case_id = _start(sqlite_app)
    newest = _events(db, case_id)[-1]
    assert all(e.delivered_at is None for e in _events(db, case_id))
    monkeypatch.setattr(events.deliver, "send", sent.append)
    t0 = newest.at
    # When the scheduler's outbox runs: not before 10 s, then after 10, 20, 40 ... seconds
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=5)) == 0
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=11)) == 1
    assert sent == [newest.id]  # one message for the case: the newest event covers the older ones
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=20)) == 0
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=21)) == 1
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=40)) == 0
    assert outbox.resend_undelivered(db, t0 + timedelta(seconds=42)) == 1
    assert {e.attempts for e in _events(db, case_id)} == {3}
    oldest = _events(db, case_id)[0].at
    assert outbox.depth(db, oldest + timedelta(seconds=60)) == outbox.Depth(len(_events(db, case_id)), 60.0)
    # Then once a message gets through, every event is delivered and nothing is sent again
    events.handle_through(db, sent[-1])
    assert all(e.delivered_at is not None for e in _events(db, case_id))
    assert outbox.resend_undelivered(db, t0 + timedelta(days=1)) == 0
    assert outbox.depth(db).events == 0


def test_an_event_that_keeps_failing_flags_its_case(sqlite_app, monkeypatch):
    db = sqlite_app.extensions["onewindow.db"]
    deploy_reference(sqlite_app)

    def broken(uow, event):
        raise RuntimeError("the clock handler is broken")

    subscribers = {kind: list(handlers) for kind, handlers in events._subscribers.items()}
    subscribers[events.TASK_CREATED].append(("test.broken", broken))
    monkeypatch.setattr(events, "_subscribers", subscribers)
    # Given a case whose task_created event a subscriber cannot handle, with no retries left
    broker.stop_in_process_worker()
    case_id = _start(sqlite_app)
    broker.get_broker().flush_all()
    newest = _events(db, case_id)[-1]
    events.deliver.send_with_options(args=(newest.id,), max_retries=0)
    # When the worker tries it
    worker = broker.start_in_process_worker()
    stub = broker.get_broker()
    for queue in list(stub.queues):
        stub.join(queue, timeout=10_000, fail_fast=False)
    worker.join()
    for dead in stub.dead_letters_by_queue.values():
        dead.clear()
    # Then nothing of that case was half-handled, and an administrator sees why
    assert all(e.delivered_at is None for e in _events(db, case_id))
    with db.read() as s:
        case = s.get(Case, case_id)
        kinds = list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
    assert case.flagged and "not handled after 1 tries" in case.flagged
    assert "the clock handler is broken" in case.flagged
    assert "event_delivery_failed" in kinds and "case_flagged" in kinds
    # And an event delivered meanwhile is not flagged
    monkeypatch.setattr(events, "_subscribers", {k: [h for h in v if h[0] != "test.broken"]
                                                 for k, v in subscribers.items()})
    events.handle_through(db, newest.id)
    assert outbox.record_failure(db, newest.id, "late", 3) is False
    with clock.frozen(newest.at + timedelta(days=1)):
        assert outbox.resend_undelivered(db, clock.now()) == 0
