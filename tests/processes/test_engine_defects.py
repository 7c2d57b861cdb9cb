"""Regressions for the engine defects designers met (issue 14): each walked through the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from engine import clock
from tests.processes.walk import Office, at

DEFECTS = Path(__file__).parent / "fixtures" / "defects"
T0 = at("2026-03-02T01:00:00Z")


def test_event_based_gateway_the_message_wins(sqlite_app):
    # Given a case waiting at an event-based gateway (a payment message or a three-day timer)
    office = Office(sqlite_app)
    assert office.deploy([DEFECTS / "payment_or_timeout.bpmn"]).status_code == 201
    with clock.frozen(T0):
        case_no = office.start("payment_or_timeout")
    assert office.case(case_no)["waiting_for"] == ["await_payment"]
    assert office.timers(case_no) == 1  # the timer branch has its row
    # When the payment arrives first
    with clock.frozen(T0 + timedelta(hours=1)):
        r = office.message(case_no, "payment_received", {"amount": 120})
    # Then the message branch is taken, the timer is gone, and the payload is in the data
    assert r.status_code == 200, r.get_json()
    view = office.case(case_no)
    assert view["status"] == "completed"
    assert "ended_paid" in [e["element_id"] for e in view["history"]]
    assert view["data"]["payment_received"] == {"amount": 120}
    assert office.timers(case_no) == 0
    # And the timer firing later changes nothing
    assert "0 timer(s) fired" in office.tick(T0 + timedelta(days=4))


def test_event_based_gateway_the_timer_wins(sqlite_app):
    # Given the same gateway
    office = Office(sqlite_app)
    office.deploy([DEFECTS / "payment_or_timeout.bpmn"])
    with clock.frozen(T0):
        case_no = office.start("payment_or_timeout")
    # When three days pass first
    assert "0 timer(s) fired" in office.tick(T0 + timedelta(days=2, hours=23))
    assert "1 timer(s) fired" in office.tick(T0 + timedelta(days=3, seconds=1))
    # Then the timer branch is taken and a late payment is refused as not awaited
    view = office.case(case_no)
    assert view["status"] == "completed"
    assert "ended_unpaid" in [e["element_id"] for e in view["history"]]
    assert office.message(case_no, "payment_received", {}).status_code == 409


def test_non_interrupting_event_subprocess_ends_with_its_process(sqlite_app):
    # Given a case whose hourly reminder (a non-interrupting timer event sub-process) has fired twice
    office = Office(sqlite_app)
    assert office.deploy([DEFECTS / "hourly_reminders.bpmn"]).status_code == 201
    with clock.frozen(T0):
        case_no = office.start("hourly_reminders")
    assert "2 timer(s) fired" in office.tick(T0 + timedelta(hours=2, seconds=1))
    assert office.case(case_no)["status"] == "running"
    # When the main flow reaches its end event
    with clock.frozen(T0 + timedelta(hours=2, minutes=5)):
        r = office.complete(case_no, "work", "window1")
    assert r.status_code == 200, r.get_json()
    # Then the case is completed, no timer is left, and the tick fires nothing more
    assert office.case(case_no)["status"] == "completed"
    assert office.timers(case_no) == 0
    assert "0 timer(s) fired" in office.tick(T0 + timedelta(days=2))
