"""Files as each modeler saves them (tests/fixtures/interop): deployed, started and walked through every
human task over the HTTP API, or refused at deploy with an element-specific message and its fix.

Camunda 7 (JUEL, camunda:), Camunda 8 (FEEL, zeebe:), Flowable (.bpmn20.xml), Activiti, bpmn.io and
the Spiff editor. One office (a migrated SQLite file, the demo users) serves the whole module; each
test deploys its own bundle, whose process ids are its own.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from engine import clock
from engine.lint import lint
from tests.conftest import make_app
from tests.processes.walk import Office, at

INTEROP = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
FORMS = sorted((INTEROP / "forms").glob("*.json"))
T0 = at("2026-03-02T01:00:00Z")


@pytest.fixture(scope="module")
def office(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("interop")
    shutil.copy(sqlite_template, folder / "onewindow.db")
    app = make_app(folder, f"sqlite:///{folder / 'onewindow.db'}")
    yield Office(app)
    from engine import broker

    broker.drain()
    app.extensions["onewindow.db"].dispose()


def deploy(office: Office, *names: str, process_id: str | None = None) -> None:
    r = office.deploy([INTEROP / n for n in names] + FORMS, process_id)
    assert r.status_code in (200, 201), r.get_json()


def done(office: Office, case_no: str, end: str) -> dict:
    view = office.case(case_no)
    assert view["status"] == "completed", (view["status"], view["open_tasks"])
    assert end in [e["element_id"] for e in view["history"]]
    return view


def step(office: Office, case_no: str, element: str, user: str, data: dict | None = None) -> None:
    r = office.complete(case_no, element, user, data)
    assert r.status_code == 200, (element, user, r.get_json())


# --- Camunda 7: JUEL and camunda: attributes --------------------------------------------------------


def test_c7_leave_request_a_forms_false_is_false(office):
    deploy(office, "c7_leave_request.bpmn")
    case_no = office.start("leave_request_c7", {"days": 5, "reason": "探亲"}, user="window1")
    step(office, case_no, "Task_dept_approval", "market1", {"approved": "true"})
    # the director's form posts the string "false": `#{approved == true}` must not hold
    step(office, case_no, "Task_director_approval", "director", {"approved": "false"})
    assert office.open_tasks(case_no)["Task_notify_refused"]["assignee"] == "window1"  # ${applicant}
    step(office, case_no, "Task_notify_refused", "window1")
    view = done(office, case_no, "EndEvent_refused")
    assert view["data"]["requestedDays"] == 5  # camunda:inputParameter


def test_c7_leave_request_short_leave_needs_no_director(office):
    deploy(office, "c7_leave_request.bpmn")
    case_no = office.start("leave_request_c7", {"days": 2, "reason": "体检"}, user="window2")
    step(office, case_no, "Task_dept_approval", "market2", {"approved": "true"})
    done(office, case_no, "EndEvent_approved")


def test_c7_purchase_approval_with_a_drd(office):
    deploy(office, "c7_purchase_approval.bpmn", "c7_purchase_approval.dmn")
    case_no = office.start("purchase_approval", {"amount": 600, "category": "catering"})
    assert office.open_tasks(case_no)["Task_approve"]["group"] == "health_dept"
    step(office, case_no, "Task_approve", "health1", {"outcome": "refused"})
    done(office, case_no, "EndEvent_refused")


def test_c7_sla_enforcement_reminds_then_escalates(office):
    deploy(office, "c7_sla_enforcement.bpmn")
    with clock.frozen(T0):
        case_no = office.start("sla_enforcement_c7", {"reminderDelay": "PT4H"})
    assert "1 timer(s) fired" in office.tick(T0 + timedelta(hours=5))  # the non-interrupting reminder
    assert list(office.open_tasks(case_no)) == ["Task_handle"]
    office.tick(T0 + timedelta(hours=49))  # the interrupting 48-hour limit
    assert list(office.open_tasks(case_no)) == ["Task_supervisor"]
    step(office, case_no, "Task_supervisor", "health_lead", {"note": "已督办"})
    done(office, case_no, "EndEvent_done")


def test_c7_onboarding_calls_a_process_from_its_bundle(office):
    deploy(office, "c7_onboarding.bpmn", "c7_onboarding_it.bpmn")
    case_no = office.start("onboarding_c7", {"department": "housing_dept", "newcomer": "李四"})
    tasks = office.open_tasks(case_no)
    assert tasks["Task_prepare_desk"]["group"] == "housing_dept"  # ${department}
    assert (tasks["Task_create_account"]["assignee"], tasks["Task_create_account"]["state"]) == ("general1", "claimed")
    step(office, case_no, "Task_create_account", "general1")
    step(office, case_no, "Task_prepare_desk", "housing1")
    done(office, case_no, "EndEvent_onboarded")


# --- Camunda 8: FEEL and zeebe: extensions ----------------------------------------------------------


def test_c8_leave_request_with_feel_and_io_mappings(office):
    deploy(office, "c8_leave_request.bpmn")
    long = office.start("leave_request_c8", {"days": 12, "reason": "病假", "department": "market_dept"})
    short = office.start("leave_request_c8", {"days": 3, "reason": "事假", "department": "market_dept"})
    assert office.open_tasks(long)["Task_approve"]["group"] == "health_dept"  # if days > 10 then ...
    assert office.open_tasks(short)["Task_approve"]["group"] == "market_dept"
    step(office, long, "Task_approve", "health1", {"approved": "true"})
    step(office, short, "Task_approve", "market1", {"approved": "false"})
    assert done(office, long, "EndEvent_approved")["data"]["isApproved"] is True  # zeebe:output
    assert done(office, short, "EndEvent_refused")["data"]["requestedDays"] == 3  # zeebe:input


def test_c8_event_based_gateway_payment_arrives(office):
    deploy(office, "c8_event_gateway_payment.bpmn")
    with clock.frozen(T0):
        case_no = office.start("fee_payment_c8", {"invoiceNo": "F-1", "graceDays": 5})
        step(office, case_no, "Task_issue_invoice", "window1")
    assert office.timers(case_no) == 1
    with clock.frozen(T0 + timedelta(days=1)):
        assert office.message(case_no, "fee_paid", {"amount": 200}).status_code == 200
    done(office, case_no, "EndEvent_paid")
    assert office.timers(case_no) == 0


def test_c8_event_based_gateway_grace_period_ends(office):
    deploy(office, "c8_event_gateway_payment.bpmn")
    with clock.frozen(T0):
        case_no = office.start("fee_payment_c8", {"invoiceNo": "F-2", "graceDays": 5})
        step(office, case_no, "Task_issue_invoice", "window2")
    assert "0 timer(s) fired" in office.tick(T0 + timedelta(days=4))
    assert "1 timer(s) fired" in office.tick(T0 + timedelta(days=5, minutes=1))  # =duration("P" + ...)
    step(office, case_no, "Task_chase", "window1")
    done(office, case_no, "EndEvent_unpaid")


def test_c8_business_licence_fee_table_and_escalation(office):
    deploy(office, "c8_business_license.bpmn", "c8_licence_fee.dmn")
    big = office.start("business_licence_c8", {"category": "catering", "area": 300, "department": "market_dept"})
    small = office.start("business_licence_c8", {"category": "food", "area": 50, "department": "market_dept"})
    assert office.case(big)["data"]["fee"] == 1500  # [200..500] -> area * 5, resultVariable
    assert office.case(small)["data"]["licenceFee"] == 500
    step(office, big, "Task_examine", "market1", {"finding": "面积核实"})
    chief = office.open_tasks(big)["Task_chief"]
    assert (chief["assignee"], chief["state"]) == ("market_lead", "claimed")
    step(office, big, "Task_chief", "market_lead", {"outcome": "approved"})
    assert done(office, big, "EndEvent_issued")["data"]["finding"] == "面积核实"  # kept through the escalation
    step(office, small, "Task_examine", "market2", {"finding": "齐全"})
    done(office, small, "EndEvent_issued")


def test_c8_a_thrown_message_starts_a_case(office):
    deploy(office, "c8_inspection_request.bpmn")
    deploy(office, "c8_application_intake.bpmn")
    case_no = office.start("application_intake_c8", {"shop": "示范餐饮店"})
    step(office, case_no, "Task_accept", "window1")
    done(office, case_no, "EndEvent_requested")
    (thrown,) = [e for e in office.case(case_no)["history"] if e["what"] == "message_thrown"]
    (started,) = thrown["data"]["started"]
    assert office.case(started)["data"]["inspection_requested"]["shop"] == "示范餐饮店"
    step(office, started, "Task_inspect", "health1", {"finding": "合格"})
    done(office, started, "EndEvent_inspected")


def test_c8_sla_monitor_event_subprocess_and_list_of_groups(office):
    deploy(office, "c8_sla_monitor.bpmn", "bpmnio_sla_levels.dmn")
    with clock.frozen(T0):
        red = office.start("sla_monitor_c8", {"daysLeft": 0, "kind": "promised"})
        green = office.start("sla_monitor_c8", {"daysLeft": 2, "kind": "instant"})
    assert office.case(red)["data"]["level"] == "red" and office.case(green)["data"]["level"] == "green"
    assert "timer(s) fired" in office.tick(T0 + timedelta(days=2, minutes=1))  # the daily watch
    # red: market_dept's task, offered to general_dept too
    assert [t["element_id"] for t in office.as_user("general1").get("/api/tasks?view=queue").get_json()["items"]
            if t["case_no"] == red] == ["Task_handle"]
    with clock.frozen(T0 + timedelta(days=2, hours=1)):
        step(office, red, "Task_handle", "general1")
        step(office, green, "Task_handle", "market1")
    done(office, red, "EndEvent_done")
    done(office, green, "EndEvent_done")
    assert office.timers(red) == 0 and office.timers(green) == 0


# --- Flowable and Activiti --------------------------------------------------------------------------


def test_flowable_expense_claim(office):
    deploy(office, "flowable_expense.bpmn20.xml")
    case_no = office.start("expenseClaim", {"amount": 800}, user="window2")
    step(office, case_no, "approveExpense", "health1", {"outcome": "approved"})  # second candidate group
    step(office, case_no, "directorSign", "director", {"outcome": "approved"})
    assert office.open_tasks(case_no)["payOut"]["assignee"] == "window2"  # ${initiator}
    step(office, case_no, "payOut", "window2")
    done(office, case_no, "paidEnd")


def test_activiti_vacation_request_adjusted_and_resent(office):
    deploy(office, "activiti_vacation_request.bpmn")
    case_no = office.start("vacationRequest", {"numberOfDays": 3}, user="window2")
    step(office, case_no, "handleRequest", "window1", {"approved": "false"})
    assert office.open_tasks(case_no)["adjustVacationRequestTask"]["assignee"] == "window2"
    step(office, case_no, "adjustVacationRequestTask", "window2", {"resendRequest": "true", "numberOfDays": 2})
    step(office, case_no, "handleRequest", "window1", {"approved": "true"})
    done(office, case_no, "approvedEnd")


def test_activiti_contract_review_times_out_to_the_director(office):
    deploy(office, "activiti_contract_review.bpmn")
    with clock.frozen(T0):
        case_no = office.start("contractReview", {"contractNo": "HT-7"})
    queue = office.as_user("housing1").get("/api/tasks?view=queue").get_json()["items"]
    assert case_no in [t["case_no"] for t in queue]  # a candidate user
    office.tick(T0 + timedelta(days=3, minutes=1))
    step(office, case_no, "escalateReview", "director", {"finding": "同意签署"})
    step(office, case_no, "signContract", "general1")
    done(office, case_no, "endevent1")


# --- bpmn.io and the Spiff editor ---------------------------------------------------------------------


def test_bpmnio_permit_with_lanes_plain_and_manual_tasks(office):
    deploy(office, "bpmnio_permit.bpmn")
    case_no = office.start_as_system("renovation_permit", {"address": "幸福路 1 号"})
    step(office, case_no, "Activity_receive", "window1")  # a plain task, in the front desk's lane
    step(office, case_no, "Activity_site_visit", "housing1")  # a manual task
    step(office, case_no, "Activity_assess", "housing1", {"outcome": "approve"})
    done(office, case_no, "EndEvent_issued")


def test_bpmnio_two_pools_deploy_the_one_named(office):
    r = office.deploy([INTEROP / "bpmnio_two_pools.bpmn"])
    assert r.status_code == 422
    assert "--process ID" in str(r.get_json())
    deploy(office, "bpmnio_two_pools.bpmn", process_id="archive_registration")
    case_no = office.start_as_system("archive_registration", {})
    step(office, case_no, "Activity_file", "general1")
    done(office, case_no, "EndEvent_archive")


def test_spiff_food_inspection(office):
    deploy(office, "spiff_food_inspection.bpmn", "spiff_inspection_fee.dmn")
    case_no = office.start("food_inspection_spiff", {"shop": "示范餐饮店", "products": ["米", "油"]})
    assert office.case(case_no)["data"]["inspectionFee"] == 160
    step(office, case_no, "Activity_take_samples", "health1", {"finding": "已抽样"})
    assert office.case(case_no)["data"]["sampled"] is True  # the post-script ran
    assert office.message(case_no, "lab_results", {"passed": False}, user="health1").status_code == 200
    step(office, case_no, "Activity_order_fix", "health1")
    done(office, case_no, "EndEvent_fix_ordered")


# --- refused at deploy, each with its element and the fix ---------------------------------------------


@pytest.mark.parametrize(("names", "element", "says"), [
    (["c7_external_payment.bpmn"], "Task_charge_fee", 'camunda external task (topic "payment")'),
    (["c7_bean_condition.bpmn"], "Flow_good", "onewindow runs no Java beans"),
    (["c8_job_worker.bpmn"], "Task_lookup", 'Zeebe job (type "http")'),
    (["flowable_holiday_request.bpmn20.xml"], "externalSystemCall", "flowable:class Java delegate"),
    (["spiff_service_operator.bpmn"], "Activity_lookup", "Spiff service operator"),
])
def test_refused_with_the_element_and_the_fix(office, names, element, says):
    r = office.deploy([INTEROP / n for n in names] + FORMS)
    assert r.status_code == 422
    problems = [p for p in r.get_json()["problems"] if p.get("severity") != "warning"]
    mine = [p for p in problems if p.get("element_id") == element]
    assert mine and says in mine[0]["message"], problems
    assert all(p.get("line") and p.get("element_id") for p in problems)
    assert any(word in mine[0]["message"] for word in ("fix:", "model the call as a user task"))


# --- nothing ignored without a word -----------------------------------------------------------------


def _warnings(*names: str) -> set[tuple[str, str]]:
    files = {n: (INTEROP / n).read_bytes() for n in names}
    return {(p.element_id or "", p.message.split(" is ignored")[0]) for p in lint(files) if p.is_warning}


def test_every_ignored_attribute_is_a_warning():
    assert {("Task_dept_approval", "camunda:dueDate"), ("Task_dept_approval", "camunda:taskListener"),
            ("leave_request_c7", "camunda:historyTimeToLive")} <= _warnings("c7_leave_request.bpmn")
    assert {("Activity_it_setup", "camunda:in"), ("Activity_it_setup", "camunda:out")} <= \
        _warnings("c7_onboarding.bpmn", "c7_onboarding_it.bpmn")
    assert ("Task_approve", "zeebe:taskSchedule") in _warnings("c8_leave_request.bpmn")
    assert {("directorSign", "flowable:dueDate"), ("approveExpense", "flowable:taskListener")} <= \
        _warnings("flowable_expense.bpmn20.xml")
    assert ("request", "activiti:formProperty") in _warnings("activiti_vacation_request.bpmn")
    assert ("Activity_take_samples", "spiffworkflow:instructionsForEndUser") in \
        _warnings("spiff_food_inspection.bpmn", "spiff_inspection_fee.dmn")


def test_the_fixture_folder_holds_at_least_25_process_and_decision_files():
    files = [p for p in INTEROP.iterdir() if p.suffix in (".bpmn", ".dmn") or p.name.endswith(".bpmn20.xml")]
    assert len(files) >= 25
