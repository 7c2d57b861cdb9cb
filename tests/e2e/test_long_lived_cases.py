"""Long-lived cases through engine.cases on SQLite: a thousand passes round a loop, a daily reminder for
400 days, and the guard that flags a state that grew too big rather than letting it run on unseen.

Each step is its own unit of work, as a route or a tick would run it: lock, load the stored state,
run SpiffWorkflow, compact, store, record the history.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import broker, cases, clock, definitions
from engine.identity import Actor
from engine.models import Case, CaseEvent, Task
from engine.scheduler import tick
from engine.spiff import prune
from tests.conftest import deploy_reference

FIXTURES = Path(__file__).resolve().parents[1] / "processes" / "fixtures" / "long_lived"
PASSES = 1000
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

DESK = Actor("window1", frozenset({"front_desk"}))
# 承办, 审核 and 批准 by three people (separation of duties)
MARKET = Actor("market1", frozenset({"market_dept"}))
REVIEWER = Actor("market2", frozenset({"market_dept"}))
APPROVER = Actor("market3", frozenset({"market_dept"}))


@pytest.fixture
def db(sqlite_app):
    deploy_reference(sqlite_app)
    return sqlite_app.extensions["onewindow.db"]


def _start(db, process_id: str = "one_window", data: dict | None = None) -> str:
    with clock.frozen(T0), db.unit_of_work() as uow:
        case = cases.start_case(uow, process_id, data if data is not None else {"category": "food"}, DESK)
        return case.case_no


def _open_task(db, case_no: str) -> tuple[str, str]:
    with db.read() as s:
        rows = [(t.id, t.element_id) for t in
                s.scalars(select(Task).where(Task.case_no == case_no, Task.state.in_(cases.OPEN_STATES)))]
    assert len(rows) == 1, rows
    return rows[0]


def _complete(db, case_no: str, element_id: str, data: dict, actor: Actor) -> None:
    task_id, open_element = _open_task(db, case_no)
    assert open_element == element_id
    with db.unit_of_work() as uow:
        cases.complete(uow, task_id, data, actor)


def _message(db, case_no: str, name: str, payload: dict) -> None:
    with db.unit_of_work() as uow:
        cases.deliver_message(uow, case_no, name, payload, DESK)  # the applicant brings them to the window


def _state_bytes(db, case_no: str) -> int:
    with db.read() as s:
        return len(cases.case_by_no(s, case_no).state.encode())


def _view(db, case_no: str) -> dict:
    with db.read() as s:
        return cases.case_view(s, cases.case_by_no(s, case_no))


def _kinds(view: dict, kind: str, element_id: str | None = None) -> list[dict]:
    return [e for e in view["history"] if e["what"] == kind and (element_id is None or e["element_id"] == element_id)]


def test_correction_loop_a_thousand_times_then_accepted_and_issued(db):
    # Given a case at the front desk
    no = _start(db)
    sizes, steps = {}, {}
    # When the desk asks for corrections a thousand times and the applicant resubmits each time
    for n in range(1, PASSES + 1):
        broker.drain(timeout_ms=120_000)  # time the engine's steps, not the event handlers' backlog
        began = time.perf_counter()
        _complete(db, no, "intake", {"decision": "correction", "missing": [f"m{n}"]}, DESK)
        _message(db, no, "materials_resubmitted", {"round": n})
        steps[n] = time.perf_counter() - began
        sizes[n] = _state_bytes(db, no)
    # Then the stored state after 1,000 passes is within 2x of after one pass
    assert sizes[PASSES] <= 2 * sizes[1], (sizes[1], sizes[PASSES])
    # And the case is still waiting at the desk, not reported complete
    assert _view(db, no)["status"] == "running"
    # When the desk accepts and the department handles, reviews, approves, and the desk issues
    _complete(db, no, "intake", {"decision": "accept"}, DESK)
    _complete(db, no, "handle", {"outcome": "submit", "opinion": "ok"}, MARKET)
    _complete(db, no, "review", {"outcome": "pass", "opinion": "ok"}, REVIEWER)
    _complete(db, no, "approve", {"outcome": "approved", "opinion": "ok"}, APPROVER)
    _complete(db, no, "issue_result", {"delivery": "pickup", "certificate_no": "C-1"}, DESK)
    # Then the case completed with the last round's data and the full history of every pass
    view = _view(db, no)
    assert view["status"] == "completed"
    assert view["data"]["missing"] == [f"m{PASSES}"]
    assert view["data"]["result"] == "approved" and view["data"]["certificate_no"] == "C-1"
    intakes = _kinds(view, "task_completed", "intake")
    assert len(intakes) == PASSES + 1
    assert [e["data"]["data"]["missing"] for e in intakes[:PASSES]] == [[f"m{n}"] for n in range(1, PASSES + 1)]
    assert [e["data"]["payload"]["round"] for e in _kinds(view, "message_received")] == list(range(1, PASSES + 1))
    assert _kinds(view, "element_completed", "issued") and len(_kinds(view, "case_ended")) == 1
    assert not _kinds(view, "case_flagged")
    # And the cost of a step did not grow with the passes behind it
    late, early = _median(steps, PASSES - 49, PASSES), _median(steps, 1, 50)
    assert late <= 2 * early + 0.01, (early, late)


def test_sent_back_between_review_and_approve_a_thousand_times(db):
    # Given an accepted case whose handling was submitted for review
    no = _start(db)
    _complete(db, no, "intake", {"decision": "accept"}, DESK)
    _complete(db, no, "handle", {"outcome": "submit", "opinion": "ok"}, MARKET)
    sizes = {}
    # When review passes and approval sends it back, a thousand times
    for n in range(1, PASSES + 1):
        _complete(db, no, "review", {"outcome": "pass", "opinion": f"review {n}"}, REVIEWER)
        _complete(db, no, "approve", {"outcome": "send_back", "opinion": f"back {n}"}, APPROVER)
        sizes[n] = _state_bytes(db, no)
        _keep_up(n)
    assert sizes[PASSES] <= 2 * sizes[1], (sizes[1], sizes[PASSES])
    # And then review passes and approval approves, and the desk issues
    _complete(db, no, "review", {"outcome": "pass", "opinion": "final review"}, REVIEWER)
    _complete(db, no, "approve", {"outcome": "approved", "opinion": "yes"}, APPROVER)
    _complete(db, no, "issue_result", {"delivery": "post", "tracking_no": "SF1"}, DESK)
    # Then the case completed with the final opinions and every pass in the history
    view = _view(db, no)
    assert view["status"] == "completed"
    assert view["data"]["result"] == "approved" and view["data"]["tracking_no"] == "SF1"
    # every signed opinion is kept, in order, none overwritten: 1,001 of each level
    signed = [(o["step"], o["text"]) for o in view["opinions"] if o["step"] != "intake"]
    assert len(signed) == 1 + 2 * (PASSES + 1) and signed[-1] == ("approve", "yes")
    assert signed[1:5] == [("review", "review 1"), ("approve", "back 1"), ("review", "review 2"), ("approve", "back 2")]
    assert len(_kinds(view, "task_completed", "review")) == PASSES + 1
    assert len(_kinds(view, "task_completed", "approve")) == PASSES + 1
    backs = [e["data"]["data"]["opinion"] for e in _kinds(view, "task_completed", "approve")]
    assert backs[:3] == ["back 1", "back 2", "back 3"] and backs[-1] == "yes"
    assert len(_kinds(view, "task_created", "review")) == PASSES + 1


def test_daily_reminder_fires_400_times_over_400_days_then_the_case_goes_on(sqlite_app):
    # Given a case waiting for a hearing with a daily (R/P1D) non-interrupting reminder
    db = sqlite_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        definitions.deploy(uow.session, {"daily_reminder.bpmn": (FIXTURES / "daily_reminder.bpmn").read_bytes()},
                           actor="test")
    no = _start(db, "daily_reminder", {})
    waiting_task, _ = _open_task(db, no)
    sizes = {}
    # When the office ticks once a day for 400 days (at the minute each reminder falls due)
    fired = 0
    for day in range(1, 401):
        report = tick(db, T0 + timedelta(days=day))
        assert report.errors == []
        fired += len([f for f in report.timers_fired if f[0] == no])
        if day in (1, 400):
            sizes[day] = _state_bytes(db, no)
        _keep_up(day)
    # Then the reminder fired 400 times, once per day, each in the history with its due instant
    assert fired == 400
    view = _view(db, no)
    firings = _kinds(view, "timer_fired", "daily")
    assert len(firings) == 400
    assert firings[0]["data"]["due_at"] == (T0 + timedelta(days=1)).isoformat()
    assert firings[-1]["data"]["due_at"] == (T0 + timedelta(days=400)).isoformat()
    assert len(_kinds(view, "element_completed", "remind")) == 400
    assert view["data"]["data_objects"]["reminder_count"] == 400
    # And the waiting task is the same open task, and the state did not grow
    assert _open_task(db, no) == (waiting_task, "await_hearing")
    assert sizes[400] <= 2 * sizes[1]
    # When the hearing result comes in
    with clock.frozen(T0 + timedelta(days=400, hours=2)):
        _complete(db, no, "await_hearing", {"heard": True}, DESK)
    # Then the reminder stops, the tally saw 400 reminders and the case goes on to the decision
    assert _open_task(db, no)[1] == "decide"
    assert _view(db, no)["data"]["reminders"] == 400
    assert tick(db, T0 + timedelta(days=402)).timers_fired == []
    with clock.frozen(T0 + timedelta(days=402)):
        _complete(db, no, "decide", {"decision": "granted"}, DESK)
    assert _view(db, no)["status"] == "completed"


def test_a_tick_after_missed_days_fires_every_missed_occurrence(sqlite_app):
    # Given the daily reminder case, and no tick for ten days
    db = sqlite_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        definitions.deploy(uow.session, {"daily_reminder.bpmn": (FIXTURES / "daily_reminder.bpmn").read_bytes()},
                           actor="test")
    no = _start(db, "daily_reminder", {})
    # When one tick comes ten and a half days later
    report = tick(db, T0 + timedelta(days=10, hours=12))
    # Then each of the ten occurrences fired once, in order, and the next one is due on day 11
    assert [f for f in report.timers_fired if f[0] == no] == [(no, "daily")] * 10
    view = _view(db, no)
    assert [e["data"]["due_at"] for e in _kinds(view, "timer_fired")] == [
        (T0 + timedelta(days=d)).isoformat() for d in range(1, 11)]
    assert view["data"]["data_objects"]["reminder_count"] == 10
    assert tick(db, T0 + timedelta(days=10, hours=13)).timers_fired == []


def test_a_state_over_the_limit_flags_the_case(db, monkeypatch):
    # Given a guard limit smaller than any real state
    monkeypatch.setattr(prune.LIMITS, "max_bytes", 500)
    # When a case starts
    no = _start(db)
    # Then it still runs, but an administrator sees why it is flagged
    with db.read() as s:
        case = cases.case_by_no(s, no)
        assert case.status == "running" and case.flagged and "bytes" in case.flagged
        flagged = s.scalar(select(func.count()).select_from(CaseEvent)
                           .where(CaseEvent.case_id == case.id, CaseEvent.kind == "case_flagged"))
    assert flagged == 1
    # And the same reason is not recorded again on the next step
    _complete(db, no, "intake", {"decision": "correction"}, DESK)
    with db.read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        assert s.scalar(select(func.count()).select_from(CaseEvent)
                        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "case_flagged")) == 1


def _keep_up(n: int) -> None:
    """Let the domain-event handlers (SLA clocks, worklists) keep up, as a running office's worker does."""
    if n % 100 == 0:
        broker.drain(timeout_ms=120_000)


def _median(values: dict[int, float], first: int, last: int) -> float:
    picked = sorted(values[n] for n in range(first, last + 1))
    return picked[len(picked) // 2]
