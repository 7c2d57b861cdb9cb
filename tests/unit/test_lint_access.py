"""lint checks the access properties: separateFrom names user tasks of the process, lists name someone."""

from __future__ import annotations

from engine.lint import lint
from engine.spiff.parser import parse_definition

FORM = """<camunda:property name="formSchema" value='{"type": "object", "properties": {"outcome": {}}}' />"""


def bundle(process_attrs: str = "", task_props: str = "", message_props: str = "") -> dict[str, bytes]:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://example/x">
  <bpmn:process id="p" isExecutable="true" {process_attrs}>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="handle" camunda:candidateGroups="dept">
      <bpmn:extensionElements><camunda:properties>{FORM}</camunda:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="review" camunda:candidateGroups="dept">
      <bpmn:extensionElements><camunda:properties>{FORM}{task_props}</camunda:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:receiveTask id="wait" messageRef="m"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing></bpmn:receiveTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="wait" />
    <bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="end" />
  </bpmn:process>
  <bpmn:message id="m" name="papers">
    <bpmn:extensionElements><camunda:properties>{message_props}</camunda:properties></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>"""
    return {"p.bpmn": xml.encode()}


def prop(name: str, value: str) -> str:
    return f'<camunda:property name="{name}" value="{value}" />'


def test_valid_access_properties_are_clean_and_parsed():
    # Given starters, a separated step and a message's senders
    files = bundle('camunda:candidateStarterGroups="front_desk"', prop("separateFrom", "handle"),
                   prop("deliverableBy", "front_desk, integration"))
    # Then lint is silent and the parse carries them
    assert lint(files) == []
    parsed = parse_definition(files)
    assert parsed.process_properties["candidateStarterGroups"] == "front_desk"
    assert parsed.message_senders == {"papers": ["front_desk", "integration"]}
    assert {t.element_id: t.properties.get("separateFrom") for t in parsed.user_tasks}["review"] == "handle"


def test_separate_from_must_name_user_tasks_of_the_process():
    # Given a step separated from an unknown id, a receive task and itself
    files = bundle(task_props=prop("separateFrom", "hadnle, wait, review"))
    # Then each wrong id is one problem at the task, with its line
    messages = [(p.element_id, p.message) for p in lint(files)]
    assert ("review", "separateFrom names 'hadnle', which is not a user task of process 'p'") in messages
    assert ("review", "separateFrom names 'wait', which is not a user task of process 'p'") in messages
    assert ("review", "separateFrom names the step itself") in messages
    assert all(p.line for p in lint(files))


def test_empty_or_malformed_name_lists_are_reported():
    files = bundle(task_props=prop("separateFrom", " , "), message_props=prop("deliverableBy", "front desk"))
    messages = [p.message for p in lint(files)]
    assert "separateFrom names nobody" in messages
    assert "deliverableBy: 'front desk' is not a group, role or step id" in messages



def test_the_reference_process_separates_review_and_approve():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = {"one_window.bpmn": (root / "bpmn/processes/one_window.bpmn").read_bytes(),
             "classify.dmn": (root / "bpmn/decisions/classify.dmn").read_bytes()}
    separate = {t.element_id: t.properties.get("separateFrom") for t in parse_definition(files).user_tasks}
    assert separate == {"intake": None, "handle": None, "review": "handle", "approve": "handle, review",
                        "co_review": None, "issue_result": None}
