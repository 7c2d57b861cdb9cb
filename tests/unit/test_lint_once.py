"""Lint says everything once: every stage in one run, people on every human task, what is ignored."""

from __future__ import annotations

import pytest

from engine.lint import errors, lint

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D" targetNamespace="t">\n')


# Every user task needs a form (engine/form_lint.py); the tasks these tests are not about get this one.
FORM = {"forms/ok.json": b'{"type": "object", "properties": {"comment": {"type": "string"}}}'}


def bpmn(body: str, process: str = '<bpmn:process id="p" isExecutable="true">') -> bytes:
    return (HEAD + process + body + "</bpmn:process></bpmn:definitions>").encode()


def by_element(problems) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.element_id or "-", []).append(p.message)
    return out


def test_preflight_and_spiff_stage_problems_come_in_one_run():
    # Given a bad timer (found before Spiff parses) and a user task with two unconditioned outgoing
    # flows (found only by Spiff's own parse), and two service tasks
    content = bpmn("""
      <bpmn:startEvent id="start" />
      <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2X</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:userTask id="split" camunda:candidateGroups="front_desk" />
      <bpmn:serviceTask id="call_a" camunda:type="external" camunda:topic="a" />
      <bpmn:serviceTask id="call_b" camunda:class="org.example.B" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
      <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="split" />
      <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="call_a" />
      <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="call_b" />
      <bpmn:sequenceFlow id="f5" sourceRef="call_a" targetRef="end" />
      <bpmn:sequenceFlow id="f6" sourceRef="call_b" targetRef="end" />""")
    # When it is linted once
    found = by_element(errors(lint({"p.bpmn": content})))
    # Then all four are there, each on its element
    assert "PT2X" in found["wait"][0]
    assert any("Multiple outgoing flows" in m for m in found["split"])
    assert "external task" in found["call_a"][0] and "Java delegate" in found["call_b"][0]


def test_every_human_task_needs_someone_lanes_or_not():
    content = bpmn("""
      <bpmn:startEvent id="start" />
      <bpmn:userTask id="u" /><bpmn:manualTask id="m" /><bpmn:task id="t" />
      <bpmn:userTask id="ok" camunda:assignee="window1" camunda:formKey="forms/ok.json" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="u" />
      <bpmn:sequenceFlow id="f2" sourceRef="u" targetRef="m" />
      <bpmn:sequenceFlow id="f3" sourceRef="m" targetRef="t" />
      <bpmn:sequenceFlow id="f4" sourceRef="t" targetRef="ok" />
      <bpmn:sequenceFlow id="f5" sourceRef="ok" targetRef="end" />""")
    found = by_element(errors(lint({"p.bpmn": content, **FORM})))
    assert sorted(found) == ["m", "t", "u"]
    assert found["m"][0].startswith("manualTask is in no lane") and found["t"][0].startswith("task is in no lane")
    assert "fix:" in found["u"][0]


def test_people_expressions_are_tried_on_the_sample_data():
    sample = '{"department": "", "approvers": ["market_dept"]}'
    process = ('<bpmn:process id="p" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
               f"<camunda:property name=\"sampleData\" value='{sample}' />"
               "</camunda:properties></bpmn:extensionElements>")
    content = bpmn("""
      <bpmn:startEvent id="start" />
      <bpmn:userTask id="nobody" camunda:candidateGroups="${department}" />
      <bpmn:userTask id="listed" camunda:candidateGroups="${approvers}" camunda:formKey="forms/ok.json" />
      <bpmn:userTask id="broken"><bpmn:extensionElements>
        <zeebe:assignmentDefinition assignee="=count(approvers)" />
      </bpmn:extensionElements></bpmn:userTask>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="nobody" />
      <bpmn:sequenceFlow id="f2" sourceRef="nobody" targetRef="listed" />
      <bpmn:sequenceFlow id="f3" sourceRef="listed" targetRef="broken" />
      <bpmn:sequenceFlow id="f4" sourceRef="broken" targetRef="end" />""", process)
    found = by_element(errors(lint({"p.bpmn": content, **FORM})))
    assert "names nobody" in found["nobody"][0] and "reads department" in found["nobody"][0]
    assert "listed" not in found
    assert "fails on the sample data" in found["broken"][0] and "1 is not a group or user name" in found["broken"][0]


def test_a_sample_that_is_not_a_json_object():
    process = ('<bpmn:process id="p" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
               '<camunda:property name="sampleData" value="[1]" /></camunda:properties></bpmn:extensionElements>')
    content = bpmn('<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />'
                   '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" />', process)
    (problem,) = errors(lint({"p.bpmn": content}))
    assert (problem.element_id, problem.message) == ("p", "sampleData must be a JSON object of variables")


def test_ignored_attributes_are_warnings_and_never_refuse():
    content = bpmn("""
      <bpmn:startEvent id="start" />
      <bpmn:userTask id="u" camunda:candidateGroups="front_desk" camunda:dueDate="2026-01-01"
                     camunda:formKey="app:x.html">
        <bpmn:extensionElements><camunda:taskListener event="create" class="X" /><camunda:properties>
          <camunda:property name="formSchema" value="forms/ok.json" /></camunda:properties></bpmn:extensionElements>
      </bpmn:userTask>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="u" />
      <bpmn:sequenceFlow id="f2" sourceRef="u" targetRef="end" />""")
    problems = lint({"p.bpmn": content, **FORM})
    assert errors(problems) == []
    warned = sorted(p.message.split(" ")[0] for p in problems)
    assert warned == ["camunda:dueDate", "camunda:formKey", "camunda:taskListener"]
    assert all(p.severity == "warning" and p.element_id == "u" for p in problems)


def test_bpmn20_xml_and_bpmn2_names_are_read():
    content = bpmn('<bpmn:startEvent id="s" /><bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f" sourceRef="s" '
                   'targetRef="e" />')
    assert lint({"leave.bpmn20.xml": content}) == []
    assert lint({"leave.bpmn2": content}) == []


def test_two_executable_processes_are_both_checked_and_deploy_names_one():
    from engine.errors import DefinitionInvalid
    from engine.spiff.parser import parse_definition

    two = (HEAD + '<bpmn:process id="a" isExecutable="true"><bpmn:startEvent id="s1" /><bpmn:userTask id="lost" '
           'camunda:formKey="forms/ok.json" /><bpmn:sequenceFlow id="f1" sourceRef="s1" targetRef="lost" />'
           '</bpmn:process>'
           '<bpmn:process id="b" isExecutable="true"><bpmn:startEvent id="s2" /><bpmn:endEvent id="e2" />'
           '<bpmn:sequenceFlow id="f2" sourceRef="s2" targetRef="e2" /></bpmn:process></bpmn:definitions>').encode()
    assert [p.element_id for p in errors(lint({"two.bpmn": two, **FORM}))] == ["lost"]
    assert parse_definition({"two.bpmn": two}, "b").process_id == "b"
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition({"two.bpmn": two})
    assert "--process ID" in refused.value.problems[0].message


def test_the_cli_prints_file_line_element_and_takes_process(tmp_path):
    from click.testing import CliRunner

    from engine.cli import lint_command

    path = tmp_path / "leave.bpmn20.xml"
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "ok.json").write_bytes(FORM["forms/ok.json"])  # found beside the file
    path.write_bytes(bpmn('<bpmn:startEvent id="s" /><bpmn:userTask id="lost" camunda:priority="5" '
                          'camunda:formKey="forms/ok.json" />'
                          '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="lost" />'))
    result = CliRunner().invoke(lint_command, [str(path), "--process", "p"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("leave.bpmn20.xml:") and " [lost] userTask is in no lane" in line for line in lines)
    assert any(" [lost] warning: camunda:priority is ignored" in line for line in lines)
    assert lines[-1] == "1 problem(s), 1 warning(s)"
