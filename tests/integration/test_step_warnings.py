"""A warning is about a step still open: none is raised for a step finished before the workers handled
its creation (found by the load drill: every intake step, yellow from its first day and done within
seconds, sent its handler a warning after the fact whenever the workers lagged behind the desk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine import broker, cases, clock, events
from engine.identity import Actor
from engine.models import CaseEvent, Task
from sla.models import Alert, Clock
from tests.conftest import deploy_reference

DESK = Actor("window1", frozenset({"front_desk"}))
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing; intake is due in 1 working day


def _start(db) -> tuple[int, str]:
    with clock.frozen(T0), db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": "food", "applicant_name": "示范餐饮店"}, DESK)
        case_id = case.id
    with db.read() as s:
        return case_id, s.scalar(select(Task.id).where(Task.case_id == case_id, Task.element_id == "intake"))


def _deliver_all(db, case_id: int) -> None:
    with db.read() as s:
        newest = s.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case_id))
    events.handle_through(db, newest)


def _intake_alerts(db, task_id: str) -> tuple[int, str]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(Alert).where(Alert.step == task_id)),
                s.scalar(select(Clock.state).where(Clock.step == task_id)))


def test_a_step_finished_before_its_creation_is_handled_warns_nobody(any_app, monkeypatch):
    deploy_reference(any_app)
    db = any_app.extensions["onewindow.db"]
    broker.drain()
    # Given the workers lag: no event of the case is delivered yet
    monkeypatch.setattr(events, "send", lambda event_id: False)
    case_id, intake = _start(db)
    # When the desk accepts the application before the creation of its intake step is handled
    with clock.frozen(T0 + timedelta(minutes=2)), db.unit_of_work() as uow:
        cases.complete(uow, intake, {"decision": "accept"}, DESK)
    _deliver_all(db, case_id)
    # Then the step's clock started and stopped, and no warning was raised for it
    assert _intake_alerts(db, intake) == (0, "stopped")


def test_a_step_still_open_when_its_creation_is_handled_is_warned_about(any_app, monkeypatch):
    deploy_reference(any_app)
    db = any_app.extensions["onewindow.db"]
    broker.drain()
    monkeypatch.setattr(events, "send", lambda event_id: False)
    # Given a new intake step, due tomorrow, whose creation is handled while it is open
    case_id, intake = _start(db)
    _deliver_all(db, case_id)
    # Then its clock runs, green on its first day (its yellow threshold, 0, is below its one-day limit:
    # lint refuses a step that would be yellow the day it opens) ...
    assert _intake_alerts(db, intake) == (0, "running")
    # ... and on its due day, still open, its handler is warned (yellow) once
    from engine.scheduler import tick

    assert not tick(db, T0 + timedelta(days=1)).errors
    assert not tick(db, T0 + timedelta(days=1, hours=1)).errors
    assert _intake_alerts(db, intake) == (1, "running")
    with db.read() as s:
        assert s.scalar(select(Alert.level).where(Alert.step == intake)) == "yellow"
