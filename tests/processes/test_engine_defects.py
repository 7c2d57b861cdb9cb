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


def test_thrown_messages_correlate_by_name_and_key_and_start_cases(sqlite_app):
    # Given two licence cases waiting for an inspection report, each under its own application number,
    # an inspection team process that throws the report and files it, and a process a filing starts
    office = Office(sqlite_app)
    for name in ("await_inspection.bpmn", "inspection_team.bpmn", "archive_on_filing.bpmn"):
        r = office.deploy([DEFECTS / name])
        assert r.status_code == 201, r.get_json()
    waiting = {no: office.start("await_inspection", {"applicationNo": no}) for no in ("A-1", "A-2")}
    assert office.case(waiting["A-2"])["waiting_for"] == ["inspection_done"]
    team = office.start("inspection_team", {"applicationNo": "A-2"})
    # When the team completes its inspection of A-2
    r = office.complete(team, "inspect", "health1", {"result": "pass"})
    assert r.status_code == 200, r.get_json()
    # Then only the case with key A-2 got the report (payload: the team's data) and moved on
    assert office.case(waiting["A-1"])["waiting_for"] == ["inspection_done"]
    moved = office.case(waiting["A-2"])
    assert list(office.open_tasks(waiting["A-2"])) == ["decide"]
    assert moved["data"]["inspection_done"]["result"] == "pass"
    # And the end event's message started an archiving case, its plain task open in its lane
    thrown = [e for e in office.case(team)["history"] if e["what"] == "message_thrown"]
    assert [(e["data"]["name"], len(e["data"]["delivered_to"]), len(e["data"]["started"])) for e in thrown] == [
        ("inspection_done", 1, 0), ("inspection_filed", 0, 1)]
    archive_no = thrown[1]["data"]["started"][0]
    assert office.case(archive_no)["process_id"] == "archive_on_filing"
    assert office.complete(archive_no, "archive", "general1").status_code == 200
    assert office.case(archive_no)["status"] == "completed"
    assert office.case(team)["status"] == "completed"


INTEROP = Path(__file__).resolve().parents[1] / "fixtures" / "interop"


def test_a_drd_evaluates_its_required_decision_first(sqlite_app):
    # Given a Camunda 7 purchase approval whose DMN is a DRD: approver_group requires risk_class
    office = Office(sqlite_app)
    r = office.deploy([INTEROP / "c7_purchase_approval.bpmn", INTEROP / "c7_purchase_approval.dmn",
                       INTEROP / "forms" / "approve.json"])
    assert r.status_code == 201, r.get_json()
    # When cases start with amounts on either side of the [250..1000] band
    high = office.start("purchase_approval", {"amount": 5000, "category": "food"})
    medium = office.start("purchase_approval", {"amount": 500, "category": "food"})
    low = office.start("purchase_approval", {"amount": 10, "category": "office"})
    # Then the required decision's output decided the approver each time
    assert office.case(high)["data"]["approverResult"] == "market_dept, health_dept"  # singleEntry
    assert office.open_tasks(high)["Task_approve"]["group"] == "market_dept"
    assert office.open_tasks(medium)["Task_approve"]["group"] == "health_dept"
    assert office.open_tasks(low)["Task_approve"]["group"] == "market_dept"
    assert office.case(low)["data"]["requester"] == "window1"  # camunda:initiator
    # And the further candidate group of the high case may complete it
    r = office.complete(high, "Task_approve", "health1", {"outcome": "approved"})
    assert r.status_code == 200, r.get_json()
    assert "EndEvent_approved" in [e["element_id"] for e in office.case(high)["history"]]


def test_an_escalated_subprocess_keeps_its_task_data(sqlite_app):
    # Given a review sub-process whose examiner escalates to the chief (a candidate user)
    office = Office(sqlite_app)
    assert office.deploy([DEFECTS / "escalated_review.bpmn"]).status_code == 201
    case_no = office.start("escalated_review", {"applicant": "示范餐饮店"})
    # When the examiner records a finding and escalates
    r = office.complete(case_no, "examine", "market1", {"needsChief": True, "finding": "资质存疑"})
    assert r.status_code == 200, r.get_json()
    # Then the chief's step is open, offered in the chief's queue, with the examiner's data
    assert list(office.open_tasks(case_no)) == ["chief_decides"]
    queue = office.as_user("market_lead").get("/api/tasks?view=queue").get_json()
    assert [t["element_id"] for t in queue["items"]] == ["chief_decides"]
    assert office.complete(case_no, "chief_decides", "market_lead", {"decision": "refuse"}).status_code == 200
    data = office.case(case_no)["data"]
    assert (data["finding"], data["applicant"], data["decision"]) == ("资质存疑", "示范餐饮店", "refuse")


def test_a_call_activity_calls_a_process_deployed_earlier_from_another_file(sqlite_app):
    # Given a shared process deployed on its own, and a caller deployed later without its file
    office = Office(sqlite_app)
    assert office.deploy([DEFECTS / "document_check.bpmn"]).status_code == 201
    alone = office.deploy([DEFECTS / "calls_document_check.bpmn"])
    assert alone.status_code == 201, alone.get_json()
    # When a case of the caller runs
    case_no = office.start("calls_document_check", {"applicant": "张三"})
    # Then the called process's step opens, and after it the caller's own
    assert office.complete(case_no, "check", "window1", {"complete": True}).status_code == 200
    assert office.complete(case_no, "decide", "market1", {}).status_code == 200
    view = office.case(case_no)
    assert view["status"] == "completed" and view["data"]["complete"] is True
