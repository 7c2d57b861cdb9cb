"""engine.lint: every problem of a bundle at once, each with its file, line and element id."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import Problem
from engine.lint import lint
from engine.spiff.parser import parse_definition

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "processes" / "broken"
FIXTURES = ROOT / "tests" / "processes" / "fixtures"


def broken(name: str) -> dict[str, bytes]:
    return {name: (BROKEN / name).read_bytes()}


def line_of(files: dict[str, bytes], name: str, text: str) -> int:
    content = files[name].decode()
    return content[: content.index(text)].count("\n") + 1


def where(problems: list[Problem]) -> list[tuple[str | None, str | None]]:
    return [(p.file, p.element_id) for p in problems]


def reference(**changed: str) -> dict[str, bytes]:
    """The reference bundle with its forms, each ``forms/<name>.json`` optionally replaced."""
    files = {
        "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
        "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    }
    for form in sorted((ROOT / "bpmn/forms").glob("*.json")):
        files[f"forms/{form.name}"] = changed.get(form.stem, form.read_text()).encode()
    return files


REVIEW_FORM = {"forms/review.json": (ROOT / "bpmn/forms/review.json").read_bytes()}


def test_the_reference_bundle_is_clean_and_parses():
    files = reference()
    assert lint(files) == []
    assert parse_definition(files).process_id == "one_window"


@pytest.mark.parametrize("names", [
    ("dialects.bpmn", "fee.dmn"), ("caller.bpmn", "site_inspection.bpmn"),
])
def test_good_fixtures_are_clean(names):
    assert lint({name: (FIXTURES / name).read_bytes() for name in names} | REVIEW_FORM) == []


def test_a_user_task_without_a_form_is_refused_with_the_fix():
    # Given the reference process with the co-review's form taken away
    files = reference()
    files["one_window.bpmn"] = files["one_window.bpmn"].replace(
        b'<camunda:property name="formSchema" value="forms/co_review.json" />', b"")
    # When it is linted
    (problem,) = lint(files)
    # Then the one problem names the file, the line and the step, and says how to fix it
    assert (problem.file, problem.element_id) == ("one_window.bpmn", "co_review")
    assert problem.line == line_of(files, "one_window.bpmn", 'id="co_review"')
    assert "no form" in problem.message and "formSchema" in problem.message


def test_a_form_named_but_missing_from_the_bundle_is_refused():
    files = reference()
    del files["forms/handle.json"]
    (problem,) = lint(files)
    assert problem.element_id == "handle" and "'forms/handle.json' is not in the bundle" in problem.message


@pytest.mark.parametrize(("form", "change", "message"), [
    ("handle", '"opinion": {', "'department', a protected case field"),
    ("co_review", '"opinion": {', "'co_department', a protected case field"),
    ("review", '"opinion": {', "'result', a protected case field"),
])
def test_a_form_may_not_declare_a_protected_routing_field(form, change, message):
    # Given a form that declares a routing field the process protects (protectedFields)
    field = message.split("'")[1]
    text = (ROOT / f"bpmn/forms/{form}.json").read_text().replace(
        change, f'"{field}": {{"type": "string"}}, {change}')
    # When the bundle is linted
    problems = lint(reference(**{form: text}))
    # Then the step is named with the field
    assert [(p.element_id, message in p.message) for p in problems] == [(form, True)]


def test_a_broken_form_and_fields_the_properties_name_are_checked():
    approve = (ROOT / "bpmn/forms/approve.json").read_text().replace('"outcome": {', '"verdict": {')
    problems = lint(reference(approve=approve, intake='{"type": "object"}'))
    assert sorted((p.element_id, p.message.split(":")[0]) for p in problems) == [
        ("approve", "caseDecision names 'outcome', which the form does not declare"),
        ("intake", "it declares no fields"),
    ]


def test_unparseable_xml_reports_the_line():
    files = broken("unparseable.bpmn")
    (problem,) = lint(files)
    assert problem.file == "unparseable.bpmn"
    assert problem.line == line_of(files, "unparseable.bpmn", "</bpmn:process>")
    assert "not well-formed XML" in problem.message


def test_user_task_outside_every_lane():
    files = broken("user_task_outside_lanes.bpmn")
    (problem,) = lint(files)
    # `claimed` is in no lane either, but names its own candidate group.
    assert problem.element_id == "orphan"
    assert problem.line == line_of(files, "user_task_outside_lanes.bpmn", 'id="orphan"')
    assert "no lane" in problem.message


def test_call_activity_target_in_none_of_the_files():
    files = broken("missing_call_target.bpmn")
    (problem,) = lint(files)
    assert problem.element_id == "call_inspection"
    assert "site_inspection" in problem.message
    assert problem.line == line_of(files, "missing_call_target.bpmn", 'id="call_inspection"')


def test_call_activity_target_in_another_file_is_fine():
    files = broken("missing_call_target.bpmn") | {
        "site_inspection.bpmn": (FIXTURES / "site_inspection.bpmn").read_bytes()
    }
    assert lint(files) == []


def test_gateway_with_an_unconditioned_flow_and_no_default():
    files = broken("gateway_without_default.bpmn")
    (problem,) = lint(files)  # Spiff's own complaint about f_no is the same problem, not listed twice
    assert problem.element_id == "gw_decision"
    assert "f_no" in problem.message
    assert problem.line == line_of(files, "gateway_without_default.bpmn", 'id="gw_decision"')


def test_bad_timer():
    files = broken("bad_timer.bpmn")
    (problem,) = lint(files)
    assert problem.element_id == "wait_two_hours"
    assert "PT2X" in problem.message
    assert problem.line == line_of(files, "bad_timer.bpmn", "<bpmn:timeDuration")


def test_a_file_with_several_problems_lists_them_all():
    files = broken("several_problems.bpmn")
    problems = lint(files)
    assert sorted(p.element_id for p in problems) == sorted([
        "gw_route",        # two unconditioned flows, no default
        "orphan",          # no lane, no candidateGroups
        "orphan",          # clock=sometimes
        "call_missing",    # calledElement not in the bundle
        "decide_fee",      # camunda:decisionRef to a missing DMN
        "compute",         # import in a script
        "wait",            # "two days" is no timer
        "gw_defaulted",    # the default flow carries a condition
    ])
    assert all(p.file == "several_problems.bpmn" and p.line for p in problems)
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    by_id = {p.element_id: p for p in problems}
    assert "import" in by_id["compute"].message
    assert "fee_table" in by_id["decide_fee"].message
    assert by_id["gw_defaulted"].line == line_of(files, "several_problems.bpmn", 'id="gw_defaulted"')


def test_problems_from_several_files_are_listed_file_by_file():
    files = broken("bad_timer.bpmn") | broken("unparseable.bpmn") | broken("gateway_without_default.bpmn")
    assert where(lint(files)) == [
        ("bad_timer.bpmn", "wait_two_hours"),
        ("unparseable.bpmn", None),
        ("gateway_without_default.bpmn", "gw_decision"),
    ]


def test_every_schema_violation_is_listed():
    content = (BROKEN / "gateway_without_default.bpmn").read_text()
    content = content.replace('<bpmn:endEvent id="yes" />', '<bpmn:endEvent id="yes" colour="red" />')
    # The end events are bare in the fixture; give one a child the schema does not know.
    content = content.replace('<bpmn:endEvent id="no" />', '<bpmn:endEvent id="no"><bpmn:x/></bpmn:endEvent>')
    problems = lint({"schema.bpmn": content.encode()})
    messages = [p.message for p in problems]
    assert any("'colour'" in m for m in messages)
    assert any("bpmn:x" in m for m in messages)


def test_spiff_parse_problems_are_included():
    content = (BROKEN / "gateway_without_default.bpmn").read_text().replace(
        '<bpmn:exclusiveGateway id="gw_decision" name="结论" />',
        '<bpmn:userTask id="gw_decision"><bpmn:extensionElements><camunda:properties '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><camunda:property name="formSchema" '
        """value='{"type": "object", "properties": {"x": {}}}' /></camunda:properties>"""
        '</bpmn:extensionElements></bpmn:userTask>')
    problems = lint({"task.bpmn": content.encode()})
    (problem,) = [p for p in problems if "Multiple outgoing flows" in p.message]
    assert problem.element_id == "gw_decision"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("dueWorkingDays", "five", "dueWorkingDays must be a whole number"),
    ("dueWorkingDays", "0", "dueWorkingDays must be a whole number"),
    ("clock", "halt", "clock must be one of start, stop, pause"),
    ("candidateGroups", "=", "candidateGroups is empty"),
    ("candidateGroups", "=__import__", "'__import__' cannot be used"),
])
def test_properties_the_engine_reads_are_checked(name, value, message):
    old = '<camunda:property name="candidateGroups" value="archive_office" />'
    new = f'<camunda:property name="{name}" value="{value}" />'
    if name != "candidateGroups":
        new = old + new
    content = (BROKEN / "user_task_outside_lanes.bpmn").read_text().replace(old, new)
    problems = [p for p in lint({"p.bpmn": content.encode()}) if p.element_id == "claimed"]
    assert [message in p.message for p in problems] == [True]


def test_the_same_property_with_different_values_in_two_dialects():
    content = (BROKEN / "user_task_outside_lanes.bpmn").read_text().replace(
        "</camunda:properties>",
        '</camunda:properties><zeebe:properties><zeebe:property name="candidateGroups" value="other_dept" />'
        "</zeebe:properties>",
    ).replace('xmlns:camunda=', 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:camunda=')
    problems = [p for p in lint({"p.bpmn": content.encode()}) if p.element_id == "claimed"]
    assert len(problems) == 1
    assert "'archive_office' in camunda but 'other_dept' in zeebe" in problems[0].message


def test_dmn_cells_are_checked():
    content = (FIXTURES / "fee.dmn").read_text().replace("<text>100</text>", "<text>__import__('os')</text>")
    files = {"dialects.bpmn": (FIXTURES / "dialects.bpmn").read_bytes(), "fee.dmn": content.encode()} | REVIEW_FORM
    (problem,) = lint(files)
    assert (problem.file, problem.element_id) == ("fee.dmn", "OutputEntry_other")


def test_a_bundle_without_bpmn():
    (problem,) = lint({"forms/intake.json": b"{}"})
    assert "no .bpmn file" in problem.message
