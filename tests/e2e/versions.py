"""Later versions of the reference process, made from bpmn/processes/one_window.bpmn as a designer
would change it in a modeler (the element, its flows, its lane and its shape), for the migration and
diagram tests.
"""

from __future__ import annotations

import io

from tests.conftest import ROOT, Api

REFERENCE = (ROOT / "bpmn/processes/one_window.bpmn").read_text(encoding="utf-8")
CLASSIFY = (ROOT / "bpmn/decisions/classify.dmn").read_bytes()
LEGAL_FORM = ('{"type": "object", "required": ["opinion"], "properties": {"opinion": {"type": "string", '
              '"title": "法制审核意见", "minLength": 1}}}')


def _swap(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the reference process changed: {old!r} is not there once"
    return text.replace(old, new)


def with_legal_review() -> str:
    """v2: a legal review (法制审核) after 审核 passes and before 批准, in the department."""
    text = _swap(REFERENCE, 'id="flow_review_pass" name="通过" sourceRef="gw_review" targetRef="approve"',
                 'id="flow_review_pass" name="通过" sourceRef="gw_review" targetRef="legal_review"')
    text = _swap(text, "<bpmn:incoming>flow_review_pass</bpmn:incoming>",
                 "<bpmn:incoming>flow_legal_done</bpmn:incoming>")
    text = _swap(text, "<bpmn:flowNodeRef>approve</bpmn:flowNodeRef>",
                 "<bpmn:flowNodeRef>legal_review</bpmn:flowNodeRef><bpmn:flowNodeRef>approve</bpmn:flowNodeRef>")
    task = f"""    <bpmn:userTask id="legal_review" name="法制审核">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="candidateGroups" value="=department" />
          <camunda:property name="dueWorkingDays" value="1" />
          <camunda:property name="warningWorkingDays" value="0" />
          <camunda:property name="formSchema" value='{LEGAL_FORM}' />
        </camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_review_pass</bpmn:incoming>
      <bpmn:outgoing>flow_legal_done</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="flow_legal_done" sourceRef="legal_review" targetRef="approve" />
  </bpmn:process>"""
    text = _swap(text, "  </bpmn:process>", task)
    shape = """      <bpmndi:BPMNShape id="legal_review_di" bpmnElement="legal_review">
        <dc:Bounds x="1550" y="680" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_legal_done_di" bpmnElement="flow_legal_done">
        <di:waypoint x="1650" y="720" />
        <di:waypoint x="1680" y="720" />
        <di:waypoint x="1680" y="640" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNShape id="approve_di" bpmnElement="approve">"""
    return _swap(text, '      <bpmndi:BPMNShape id="approve_di" bpmnElement="approve">', shape)


def _cut(text: str, start_marker: str, end_marker: str) -> str:
    start = text.index(start_marker)
    end = text.index(end_marker, start) + len(end_marker)
    return text[:start] + text[end:]


def without_supplement() -> str:
    """A version where 承办 can no longer ask for more materials: 等待补充材料 (await_supplement, where a
    case waits for the applicant's message) and its flows are gone."""
    text = _cut(REFERENCE, '<bpmn:receiveTask id="await_supplement"', "</bpmn:receiveTask>")
    text = _cut(text, '<bpmn:sequenceFlow id="flow_request_materials"', "</bpmn:sequenceFlow>")
    text = _cut(text, '<bpmn:sequenceFlow id="flow_supplemented"', "/>")
    for line in ("<bpmn:outgoing>flow_request_materials</bpmn:outgoing>",
                 "<bpmn:incoming>flow_supplemented</bpmn:incoming>",
                 "<bpmn:flowNodeRef>await_supplement</bpmn:flowNodeRef>"):
        text = _swap(text, line, "")
    text = _cut(text, '<bpmndi:BPMNShape id="await_supplement_di"', "</bpmndi:BPMNShape>")
    text = _cut(text, '<bpmndi:BPMNEdge id="flow_request_materials_di"', "</bpmndi:BPMNEdge>")
    return _cut(text, '<bpmndi:BPMNEdge id="flow_supplemented_di"', "</bpmndi:BPMNEdge>")


def deploy_text(app, text: str) -> int:
    """Deploy a version of one_window (its DMN and forms with it); returns the version number."""
    files = [(io.BytesIO(text.encode()), "one_window.bpmn"), (io.BytesIO(CLASSIFY), "classify.dmn")]
    admin = Api(app, "admin")
    r = admin.client.post("/api/definitions", data={"file": files}, headers=admin.headers,
                          content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()["version"]
