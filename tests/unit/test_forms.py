"""engine.forms: what a step may write, what reaches the case, and the send back — no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import Forbidden, Invalid
from engine.forms import StepForm, bundle_forms, parse_schema, property_list

ROOT = Path(__file__).resolve().parents[2]
PROTECTED = property_list("category, department,co_department,joint,result")


def form(name: str, **properties: str) -> StepForm:
    schema = parse_schema((ROOT / f"bpmn/forms/{name}.json").read_text(), name)
    return StepForm(name, schema, PROTECTED, properties)


def fields(exc: pytest.ExceptionInfo) -> list[str | None]:
    return [p.field for p in exc.value.problems]


def test_undeclared_and_protected_fields_are_named_together():
    with pytest.raises(Invalid) as exc:
        form("handle").completion({"outcome": "submit", "opinion": "同意", "department": "x", "note": 1})
    assert fields(exc) == ["department", "note"]
    assert "its form has: opinion, outcome" in exc.value.problems[0].message


def test_a_form_that_declares_a_protected_field_is_still_refused_it():
    schema = {"type": "object", "properties": {"department": {"type": "string"}}}
    with pytest.raises(Invalid) as exc:
        StepForm("sneaky", schema, PROTECTED).completion({"department": "housing_dept"})
    assert fields(exc) == ["department"] and "protected" in exc.value.problems[0].message


def test_the_opinion_stays_out_of_the_case_and_the_decision_becomes_the_result():
    approve = form("approve", caseDecision="outcome")
    data = approve.completion({"outcome": "refused", "opinion": "场所不符合要求"})
    assert approve.case_data(data) == {"outcome": "refused", "result": "refused"}
    assert (approve.opinion_field, approve.decision_field, approve.title("outcome", "refused")) == (
        "opinion", "outcome", "不予许可")
    # a send back is no decision: result is not written
    back = approve.completion({}, sent_back="请复核")
    assert back == {"outcome": "send_back"} and approve.case_data(back) == {"outcome": "send_back"}


def test_a_send_back_needs_a_modelled_path():
    with pytest.raises(Forbidden):
        form("handle").completion({}, sent_back="x")
    assert form("review").send_back == ("outcome", "send_back")
    assert form("handle", sendBack="outcome=request_materials").send_back == ("outcome", "request_materials")


def test_the_intake_signs_its_reason_and_decision():
    intake = form("intake", opinionField="reason", decisionField="decision")
    assert (intake.opinion_field, intake.decision_field, intake.case_decision) == ("reason", "decision", None)
    assert intake.case_data({"decision": "reject", "reason": "不属于本机关"}) == {"decision": "reject"}


def test_a_step_of_a_definition_without_forms_approves_with_a_comment():
    legacy = StepForm("old", None)
    assert legacy.declared == {"outcome", "comment"} and legacy.opinion_field == "comment"
    with pytest.raises(Invalid):
        legacy.completion({"outcome": "approve", "result": "approved"})


def test_a_schema_without_fields_is_refused():
    with pytest.raises(Invalid, match="declares no fields"):
        parse_schema(json.dumps({"type": "object"}), "empty")


def test_forms_are_bundled_from_the_designers_folder_unless_given(tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "a.json").write_text("{}")
    files = bundle_forms({"p.bpmn": b"<x/>", "b.json": b"given"}, ["forms/a.json", "forms/b.json", "../etc"],
                         [tmp_path])
    assert files == {"p.bpmn": b"<x/>", "b.json": b"given", "forms/a.json": b"{}"}
