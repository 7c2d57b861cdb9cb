"""engine.limit_lint: a step's yellow threshold below its limit, the steps within the promise."""

from __future__ import annotations

from engine.limit_lint import step_limit_total
from engine.lint import errors, lint
from tests.unit.test_lint import line_of, reference

INTAKE_WARNING = b'<camunda:property name="warningWorkingDays" value="0" />'


def _replace(files: dict[str, bytes], old: bytes, new: bytes) -> dict[str, bytes]:
    assert files["one_window.bpmn"].count(old) >= 1, old
    return {**files, "one_window.bpmn": files["one_window.bpmn"].replace(old, new, 1)}


def test_the_reference_steps_fit_its_smallest_promise():
    # Given the reference process: 承办, 审核 and 批准 run while the case clock does (受理审查 before it
    # starts at 已受理, 出件 after it stops at 已办结); 会办 runs beside them
    path = step_limit_total(reference(), "one_window")
    # Then they add up to 3 working days, what the shortest promise of its catalog items allows
    assert path is not None and path.total == 3
    assert [step for step, _days in path.steps] in (["handle", "review", "approve"], ["co_review"])


def test_a_step_as_long_as_the_office_threshold_is_refused():
    # Given the reference process whose one-day 受理审查 no longer declares its own threshold
    files = _replace(reference(), INTAKE_WARNING, b"")
    # When it is linted under the office's default threshold of one working day
    problems = lint(files, warning_working_days=1)
    # Then the one error names the step, its line, both figures and the fix
    (problem,) = problems
    assert not problem.is_warning and problem.element_id == "intake"
    assert problem.line == line_of(files, "one_window.bpmn", 'id="intake"')
    assert "office's default warningWorkingDays 1" in problem.message and "dueWorkingDays 1" in problem.message
    assert "yellow the day it opens" in problem.message and "fix:" in problem.message


def test_the_office_threshold_decides_for_steps_without_their_own():
    # Given the reference process, unchanged
    files = reference()
    # When the office warns two working days ahead
    problems = errors(lint(files, warning_working_days=2))
    # Then 出件 (two days, no threshold of its own) is refused and 会办 (three days) is not
    assert [p.element_id for p in problems] == ["issue_result"]


def test_a_step_threshold_equal_to_its_limit_or_not_a_number_is_refused():
    # Given 审核 warning as early as its limit, and 批准 with a threshold that is not a number
    files = _replace(reference(), b'<camunda:property name="dueWorkingDays" value="1" />\n'
                                  b'          <camunda:property name="warningWorkingDays" value="0" />\n'
                                  b'          <camunda:property name="formSchema" value="forms/review.json" />',
                     b'<camunda:property name="dueWorkingDays" value="1" />\n'
                     b'          <camunda:property name="warningWorkingDays" value="1" />\n'
                     b'          <camunda:property name="formSchema" value="forms/review.json" />')
    files = _replace(files, b'<camunda:property name="warningWorkingDays" value="0" />\n'
                            b'          <camunda:property name="formSchema" value="forms/approve.json" />',
                     b'<camunda:property name="warningWorkingDays" value="soon" />\n'
                     b'          <camunda:property name="formSchema" value="forms/approve.json" />')
    # When linted
    problems = {p.element_id: p for p in lint(files)}
    # Then both are errors, each saying what is wrong with it
    assert "its warningWorkingDays 1" in problems["review"].message and not problems["review"].is_warning
    assert "'soon'" in problems["approve"].message and not problems["approve"].is_warning


def test_a_threshold_on_a_step_without_a_limit_is_a_warning():
    files = _replace(reference(), b'<camunda:property name="dueWorkingDays" value="2" />', b"")
    problems = lint(_replace(files, b'<camunda:property name="formSchema" value="forms/issue.json" />',
                             b'<camunda:property name="formSchema" value="forms/issue.json" />'
                             b'<camunda:property name="warningWorkingDays" value="1" />'))
    (problem,) = problems
    assert problem.is_warning and problem.element_id == "issue_result" and "ignored" in problem.message


def test_step_limits_past_the_promise_are_a_warning_naming_the_steps():
    # Given the reference process promising 2 working days, with 承办 given 5
    files = _replace(reference(), b'name="promisedWorkingDays" value="20"', b'name="promisedWorkingDays" value="2"')
    files = _replace(files, b'<camunda:property name="dueWorkingDays" value="1" />\n'
                            b'          <camunda:property name="warningWorkingDays" value="0" />\n'
                            b'          <camunda:property name="formSchema" value="forms/handle.json" />',
                     b'<camunda:property name="dueWorkingDays" value="5" />\n'
                     b'          <camunda:property name="formSchema" value="forms/handle.json" />')
    # When linted
    (problem,) = lint(files)
    # Then a warning (the bundle still deploys) on the process adds up the longest path while the
    # case clock runs: not 受理审查 before acceptance, not 出件 after the decision, 会办 only beside
    assert problem.is_warning and problem.element_id == "one_window"
    assert "add up to 7 working days (handle 5 + review 1 + approve 1)" in problem.message
    assert "promised 2" in problem.message


LOOP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="promisedWorkingDays" value="30" />
    </camunda:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start" />
    <bpmn:parallelGateway id="split" />
    <bpmn:userTask id="a" camunda:candidateGroups="g">{a}</bpmn:userTask>
    <bpmn:userTask id="b" camunda:candidateGroups="g">{b}</bpmn:userTask>
    <bpmn:userTask id="c" camunda:candidateGroups="g">{c}</bpmn:userTask>
    <bpmn:exclusiveGateway id="check" default="f_on" />
    <bpmn:parallelGateway id="join" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="a" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="b" />
    <bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="check" />
    <bpmn:sequenceFlow id="f_back" sourceRef="check" targetRef="a" />
    <bpmn:sequenceFlow id="f_on" sourceRef="check" targetRef="c" />
    <bpmn:sequenceFlow id="f5" sourceRef="c" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="b" targetRef="join" />
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def _limit(days: int) -> str:
    return ('<bpmn:extensionElements><camunda:properties>'
            f'<camunda:property name="dueWorkingDays" value="{days}" />'
            '<camunda:property name="warningWorkingDays" value="0" />'
            '</camunda:properties></bpmn:extensionElements>')


def test_a_loop_counts_once_and_parallel_branches_as_the_longest():
    # Given a then c (with a send-back from after a to a) beside b
    def total(a: int, b: int, c: int) -> int | None:
        files = {"loop.bpmn": LOOP.replace(b"{a}", _limit(a).encode()).replace(b"{b}", _limit(b).encode())
                 .replace(b"{c}", _limit(c).encode())}
        path = step_limit_total(files, "loop")
        return path.total if path else None

    # Then the branch a + c counts when it is longer than b, and b when it is longer
    assert total(2, 3, 4) == 6
    assert total(1, 9, 1) == 9
