"""Every path through the reference process, in memory: parse_definition + BpmnWorkflow, no database.

Each test drives the case the way the runtime does (complete the READY user task with data its form
admits, writing what the engine writes: no opinion in the case data, ``result`` from 批准's decision;
deliver messages, let timers fire on the frozen clock) and checks who may claim each step, the
properties the SLA and worklists read, and the data the case ends with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import Invalid
from engine.forms import StepForm, parse_schema, property_list, schema_text
from engine.spiff.parser import ParsedDefinition, parse_definition
from engine.spiff.script_engine import make_script_engine

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


FILES = {
    "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
    "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    **{f"forms/{p.name}": p.read_bytes() for p in (ROOT / "bpmn/forms").glob("*.json")},
}


@pytest.fixture(scope="module")
def definition() -> ParsedDefinition:
    return parse_definition(FILES)


class Case:
    """A workflow plus a log of what completed, as the runtime would record it."""

    def __init__(self, definition: ParsedDefinition, **data):
        engine = make_script_engine()
        self.wf = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=engine)
        self.completed: list[str] = []
        self.clock_events: list[tuple[str, str]] = []
        self.protected = property_list(definition.process_properties.get("protectedFields"))
        self.wf.get_next_task(state=TaskState.READY).data.update(data)
        self._run()

    def _did_complete(self, task) -> None:
        spec = task.task_spec
        if spec.bpmn_id:
            self.completed.append(spec.bpmn_id)
            if "clock" in spec.extensions.get("properties", {}):
                self.clock_events.append((spec.bpmn_id, spec.extensions["properties"]["clock"]))

    def _run(self) -> None:
        self.wf.do_engine_steps(did_complete_task=self._did_complete)

    def ready(self) -> list[str]:
        return sorted(t.task_spec.bpmn_id for t in self.wf.get_tasks(state=TaskState.READY, manual=True))

    def task(self, element_id: str):
        ready = self.wf.get_tasks(state=TaskState.READY, manual=True)
        tasks = [t for t in ready if t.task_spec.bpmn_id == element_id]
        assert len(tasks) == 1, f"{element_id} is not ready; ready: {self.ready()}"
        return tasks[0]

    def waiting(self, element_id: str):
        tasks = [t for t in self.wf.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == element_id]
        assert len(tasks) == 1, f"{element_id} is not waiting"
        return tasks[0]

    def group(self, element_id: str) -> str:
        """Who may claim the ready task: candidateGroups (=expr or literal) else the lane."""
        task = self.task(element_id)
        expression = task.task_spec.extensions["properties"].get("candidateGroups")
        if expression is None:
            return task.task_spec.lane
        if expression.startswith("="):
            return self.wf.script_engine.evaluate(task, expression[1:])
        return expression

    def form(self, element_id: str) -> StepForm:
        props = self.task(element_id).task_spec.extensions["properties"]
        schema = parse_schema(schema_text(props["formSchema"], element_id, FILES), element_id)
        return StepForm(element_id, schema, self.protected, props)

    def complete(self, element_id: str, checked: bool = True, **data) -> None:
        """Complete as the engine does: the form admits the data and says what reaches the case
        (``checked=False`` hands the data to SpiffWorkflow as given, to test the gateways alone)."""
        task = self.task(element_id)
        if checked:
            form = self.form(element_id)
            data = form.case_data(form.completion(data))
        task.data.update(data)
        task.run()
        self._did_complete(task)
        self._run()

    def waiting_for(self) -> set[str]:
        return {t.task_spec.event_definition.name for t in self.wf.event_manager.tasks.values()
                if isinstance(t.task_spec.event_definition, MessageEventDefinition)}

    def deliver(self, message: str, payload: dict) -> None:
        self.wf.send_event(BpmnEvent(MessageEventDefinition(message), payload))
        self._run()

    def fire_timers(self) -> None:
        self.wf.refresh_timers()
        self._run()

    @property
    def data(self) -> dict:
        return self.wf.last_task.data if self.wf.is_completed() else {}

    def end(self) -> str:
        assert self.wf.is_completed(), f"still running; ready: {self.ready()}"
        ends = [e for e in ("issued", "not_accepted", "withdrawn") if e in self.completed]
        assert len(ends) == 1
        return ends[0]


def accept(case: Case) -> None:
    assert case.group("intake") == "front_desk"
    case.complete("intake", decision="accept", reason="", missing=[])


def department_chain(case: Case, department: str, result: str = "approved") -> None:
    steps = [
        ("handle", {"outcome": "submit", "opinion": "材料齐全"}),
        ("review", {"outcome": "pass", "opinion": "同意"}),
        ("approve", {"outcome": result, "opinion": "审批意见"}),
    ]
    for step, data in steps:
        assert case.group(step) == department
        case.complete(step, **data)


def issue(case: Case, **data) -> None:
    assert case.group("issue_result") == "front_desk"
    case.complete("issue_result", **data)


# --- the definition as the runtime sees it --------------------------------------------------------


def test_definition_exposes_lanes_groups_and_step_limits(definition):
    tasks = {t.element_id: t for t in definition.user_tasks}
    assert set(tasks) == {"intake", "handle", "review", "approve", "co_review", "issue_result"}
    assert {k: (t.lane, t.candidate_groups) for k, t in tasks.items()} == {
        "intake": ("front_desk", None),
        "handle": ("departments", "=_.value(department)"),
        "review": ("departments", "=_.value(department)"),
        "approve": ("departments", "=_.value(department)"),
        "co_review": ("departments", "=_.value(co_department)"),
        "issue_result": ("front_desk", None),
    }
    assert {k: t.properties["dueWorkingDays"] for k, t in tasks.items()} == {
        "intake": "1", "handle": "1", "review": "1", "approve": "1", "co_review": "3", "issue_result": "2",
    }
    # a one-day step warns on its due day, not the day it opens
    assert {k: t.properties.get("warningWorkingDays") for k, t in tasks.items()} == {
        "intake": "0", "handle": "0", "review": "0", "approve": "0", "co_review": None, "issue_result": None,
    }
    assert tasks["intake"].lane_name == "综合窗口"
    assert definition.process_id == "one_window"
    assert definition.process_properties == {
        "promisedWorkingDays": "20", "startableBy": "integration", "candidateStarterGroups": "front_desk",
        "protectedFields": "category,department,co_department,joint,result"}
    assert definition.message_senders == {"materials_resubmitted": ["front_desk"],
                                          "materials_supplemented": ["front_desk"]}
    assert {k: t.properties["formSchema"] for k, t in tasks.items()} == {
        "intake": "forms/intake.json", "handle": "forms/handle.json", "review": "forms/review.json",
        "approve": "forms/approve.json", "co_review": "forms/co_review.json", "issue_result": "forms/issue.json"}
    assert tasks["approve"].properties["caseDecision"] == "outcome"
    assert definition.messages == {"materials_resubmitted", "materials_supplemented"}
    specs = definition.spec.task_specs
    assert specs["accepted"].extensions["properties"] == {"clock": "start"}
    assert specs["decided"].extensions["properties"] == {"clock": "stop"}
    assert specs["await_supplement"].extensions["properties"] == {"clock": "pause"}
    # Written P60D (Camunda style) in the file, quoted for Spiff at parse time.
    assert specs["correction_timeout"].event_definition.expression == "'P60D'"
    assert specs["correction_timeout"].cancel_activity is True


# --- the paths ------------------------------------------------------------------------------------


def test_accept_single_department_approved_and_issued(definition):
    # Given a food licence application
    case = Case(definition, category="food")
    # When the window accepts it and the market department approves
    accept(case)
    assert case.ready() == ["handle"]
    department_chain(case, "market_dept")
    issue(case, delivery="pickup", certificate_no="JY-2026-0001", tracking_no="")
    # Then it is issued, the clock started at acceptance and stopped at the decision
    assert case.end() == "issued"
    assert "co_review" not in case.completed
    assert case.clock_events == [("accepted", "start"), ("decided", "stop")]
    expected = {
        "category": "food", "decision": "accept", "department": "market_dept", "co_department": "",
        "joint": False, "outcome": "approved", "result": "approved", "delivery": "pickup",
        "certificate_no": "JY-2026-0001",
    }
    assert {key: case.data.get(key) for key in expected} == expected


@pytest.mark.parametrize(("category", "department"), [
    ("business", "market_dept"), ("medical", "health_dept"), ("construction", "housing_dept"),
    ("fishing_licence", "general_dept"),
])
def test_classification_routes_to_the_lead_department(definition, category, department):
    case = Case(definition, category=category)
    accept(case)
    assert case.group("handle") == department
    assert case.task("handle").data["joint"] is False


def test_joint_catering_case_runs_co_review_in_parallel(definition):
    # Given a catering case: market department leads, health department co-reviews
    case = Case(definition, category="catering")
    accept(case)
    # When both branches are open at once
    assert case.ready() == ["co_review", "handle"]
    assert case.group("co_review") == "health_dept"
    assert case.group("handle") == "market_dept"
    case.complete("co_review", outcome="agree", opinion="卫生条件符合要求")
    assert case.ready() == ["handle"]
    department_chain(case, "market_dept")
    # Then the join waits for both and one result is issued
    assert case.ready() == ["issue_result"]
    issue(case, delivery="post", certificate_no="JY-2026-0002", tracking_no="SF123")
    assert case.end() == "issued"
    assert case.data["joint"] is True
    assert "opinion" not in case.data  # opinions are records, not case data
    assert case.data["result"] == "approved"
    assert case.data["tracking_no"] == "SF123"


def test_joint_case_waits_for_a_late_co_review(definition):
    case = Case(definition, category="catering")
    accept(case)
    department_chain(case, "market_dept")
    # The lead department has decided; the join still waits for the co-reviewing department
    assert case.ready() == ["co_review"]
    assert "decided" not in case.completed
    case.complete("co_review", outcome="disagree", opinion="需整改后再审")
    assert case.ready() == ["issue_result"]
    assert case.clock_events == [("accepted", "start"), ("decided", "stop")]
    issue(case, delivery="pickup", certificate_no="", tracking_no="")
    assert case.end() == "issued"
    # the co-review's outcome may overwrite 批准's at the join; the case's decision stays
    assert case.data["outcome"] == "disagree" and case.data["result"] == "approved"


def test_not_accepted_at_intake(definition):
    case = Case(definition, category="food")
    case.complete("intake", decision="reject", reason="不属于本机关职权范围，请向市场监管局申请", missing=[])
    assert case.end() == "not_accepted"
    assert case.clock_events == []
    assert case.data["decision"] == "reject" and "reason" not in case.data  # the reason is the 受理意见


def test_correction_then_resubmitted_then_accepted(definition):
    # Given materials are incomplete
    case = Case(definition, category="food")
    case.complete("intake", decision="correction", reason="材料不全", missing=["M01", "M03"])
    assert case.ready() == []
    assert case.waiting_for() == {"materials_resubmitted"}
    # When the applicant resubmits
    case.deliver("materials_resubmitted", {"materials": ["M01", "M03"]})
    # Then the window checks again; the payload is kept under the message name
    assert case.ready() == ["intake"]
    assert case.task("intake").data["materials_resubmitted"] == {"materials": ["M01", "M03"]}
    accept(case)
    department_chain(case, "market_dept")
    issue(case, delivery="pickup", certificate_no="JY-2026-0003", tracking_no="")
    assert case.end() == "issued"
    assert case.completed.count("intake") == 2
    assert case.clock_events == [("accepted", "start"), ("decided", "stop")]


def test_correction_not_answered_in_60_days_is_withdrawn(definition):
    with clock.frozen(T0):
        case = Case(definition, category="food")
        case.complete("intake", decision="correction", reason="材料不全", missing=["M02"])
        timer = case.waiting("correction_timeout")
        assert datetime.fromisoformat(timer.internal_data["event_value"]) == T0 + timedelta(days=60)
    with clock.frozen(T0 + timedelta(days=59)):
        case.fire_timers()
        assert not case.wf.is_completed()
    with clock.frozen(T0 + timedelta(days=60, seconds=1)):
        case.fire_timers()
    assert case.end() == "withdrawn"
    assert "await_correction" not in case.completed  # interrupted, never completed
    with pytest.raises(WorkflowException, match="not waiting"):
        case.deliver("materials_resubmitted", {})


def test_review_sends_back_to_handle(definition):
    case = Case(definition, category="medical")
    accept(case)
    case.complete("handle", outcome="submit", opinion="材料齐全")
    case.complete("review", outcome="send_back", opinion="请补充现场核查意见")
    assert case.ready() == ["handle"]
    assert case.group("handle") == "health_dept"
    department_chain(case, "health_dept")
    issue(case, delivery="pickup", certificate_no="YL-1", tracking_no="")
    assert case.end() == "issued"
    assert case.completed.count("handle") == 2
    assert case.completed.count("review") == 2


def test_approve_sends_back_to_review(definition):
    case = Case(definition, category="construction")
    accept(case)
    case.complete("handle", outcome="submit", opinion="材料齐全")
    case.complete("review", outcome="pass", opinion="同意")
    case.complete("approve", outcome="send_back", opinion="审核意见不充分")
    assert case.ready() == ["review"]
    assert case.group("review") == "housing_dept"
    case.complete("review", outcome="pass", opinion="已补充，同意")
    case.complete("approve", outcome="approved", opinion="同意，准予许可")
    issue(case, delivery="post", certificate_no="JS-1", tracking_no="EMS1")
    assert case.end() == "issued" and case.data["result"] == "approved"
    assert case.completed.count("review") == 2
    assert case.completed.count("handle") == 1


def test_handle_requests_materials_and_the_clock_pauses(definition):
    case = Case(definition, category="business")
    accept(case)
    case.complete("handle", outcome="request_materials", opinion="缺少场所证明")
    assert case.ready() == []
    assert case.waiting_for() == {"materials_supplemented"}
    assert case.waiting("await_supplement").task_spec.extensions["properties"]["clock"] == "pause"
    case.deliver("materials_supplemented", {"materials": ["M09"]})
    assert case.ready() == ["handle"]
    assert case.clock_events == [("accepted", "start"), ("await_supplement", "pause")]
    department_chain(case, "market_dept")
    issue(case, delivery="pickup", certificate_no="YY-1", tracking_no="")
    assert case.end() == "issued"
    assert case.data["materials_supplemented"] == {"materials": ["M09"]}


def test_refused_case_is_still_issued(definition):
    case = Case(definition, category="food")
    accept(case)
    department_chain(case, "market_dept", result="refused")
    # A refusal is a decision too: the clock stops and the notice is handed out at the window
    assert case.ready() == ["issue_result"]
    issue(case, delivery="pickup", certificate_no="", tracking_no="")
    assert case.end() == "issued"
    assert case.data["result"] == "refused"
    assert case.clock_events == [("accepted", "start"), ("decided", "stop")]


def test_an_unknown_intake_decision_stops_the_case(definition):
    # The form refuses a decision it does not offer, naming the field
    case = Case(definition, category="food")
    with pytest.raises(Invalid) as exc:
        case.complete("intake", decision="acept")
    assert [p.field for p in exc.value.problems] == ["decision"]
    # and behind it every intake flow has a condition and none is the default: a typo never accepts a case
    with pytest.raises(WorkflowException, match="No conditions satisfied for gw_intake"):
        case.complete("intake", checked=False, decision="acept")


def test_no_step_may_write_a_routing_field(definition):
    # Given a food case at 承办 in the market department
    case = Case(definition, category="food")
    accept(case)
    # When the handler tries to reroute it or to decide it, the form refuses, naming each field
    with pytest.raises(Invalid) as exc:
        case.complete("handle", outcome="submit", opinion="同意", department="housing_dept", result="approved")
    assert [p.field for p in exc.value.problems] == ["department", "result"]
    # Then nothing moved
    assert case.ready() == ["handle"] and case.task("handle").data["department"] == "market_dept"


def test_approve_has_one_decision_field_and_the_case_result_follows_it(definition):
    case = Case(definition, category="food")
    accept(case)
    case.complete("handle", outcome="submit", opinion="材料齐全")
    case.complete("review", outcome="pass", opinion="同意")
    # 准予 together with 不予 cannot be said any more: result is not a field of the form
    with pytest.raises(Invalid) as exc:
        case.complete("approve", outcome="approved", result="refused", opinion="同意")
    assert [p.field for p in exc.value.problems] == ["result"]
    # a refusal without reasons is refused too (the 决定书 prints them)
    with pytest.raises(Invalid) as exc:
        case.complete("approve", outcome="refused")
    assert [p.field for p in exc.value.problems] == ["opinion"]
    case.complete("approve", outcome="refused", opinion="经营场所不符合要求")
    issue(case, delivery="pickup")
    assert case.end() == "issued" and case.data["result"] == "refused"
