"""What a modeler's file asks for that onewindow does not do: a warning for every attribute or
extension it ignores, an error (with what to do instead) for every element it cannot run.

Each modeler saves vendor attributes (``camunda:formKey``, ``flowable:dueDate``...) and extension
elements (``camunda:taskListener``, ``zeebe:taskHeaders``...). The engine reads the ones in
:data:`READ` (``bpmn/CONVENTIONS.md`` says how); every other one is named in a warning, so nothing a
designer drew is ignored without a word.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import Problem
from engine.spiff.documents import NS, Document, form_key, json_form_path

VENDORS = {NS[p]: p for p in ("camunda", "zeebe", "activiti", "flowable", "spiffworkflow")}

# what the engine reads, by local name (attributes and extension elements alike)
READ = frozenset({
    "properties", "property", "assignee", "candidateUsers", "candidateGroups", "assignmentDefinition",
    "candidateStarterGroups", "candidateStarterUsers", "decisionRef", "calledDecision", "calledDecisionId",
    "inputOutput", "inputParameter", "outputParameter", "ioMapping", "input", "output", "preScript",
    "postScript", "messageVariable", "formKey", "formDefinition", "formJsonSchemaFilename", "calledElement",
    "subscription", "correlationKey", "initiator", "userTask", "messagePayload", "processVariableCorrelation",
    "resultVariable", "mapDecisionResult", "variableName", "payloadExpression",
})

# read on a business rule task only (a script task's result variable is not)
_DECISION_ONLY = frozenset({"resultVariable", "mapDecisionResult"})

# why an ignored attribute does nothing, and what to do instead
HINTS = {
    "dueDate": "a step's time limit is the dueWorkingDays property, counted in working days",
    "followUpDate": "the SLA warnings (dueWorkingDays) remind the handler",
    "priority": "worklists sort by due date; use dueWorkingDays",
    "taskListener": "listeners run Java code: put the work in a script task or a form field",
    "executionListener": "listeners run Java code: put the work in a script task",
    "executionListeners": "listeners run Java code: put the work in a script task",
    "taskHeaders": "headers are for job workers, which onewindow does not run yet",
    "in": "a call activity sees the caller's data and hands all of its own back",
    "out": "a call activity sees the caller's data and hands all of its own back",
    "instructionsForEndUser": "put the instructions in the form schema's description",
    "formData": "describe the form as a JSON Schema (formSchema property or a formKey ending in .json)",
    "formField": "describe the form as a JSON Schema (formSchema property or a formKey ending in .json)",
    "formProperty": "describe the form as a JSON Schema (formSchema property or a formKey ending in .json)",
    "asyncBefore": "every step is saved in one transaction anyway",
    "asyncAfter": "every step is saved in one transaction anyway",
    "async": "every step is saved in one transaction anyway",
    "exclusive": "every step of a case is serialised by the case lock",
    "failedJobRetryTimeCycle": "there are no jobs to retry yet",
    "historyTimeToLive": "the history is kept as the office's retention rules say",
    "versionTag": "deploy versions a definition by its content",
    "taskSchedule": "a step's time limit is the dueWorkingDays property",
    "loopCharacteristics": "write the multi-instance loop with BPMN's own loopCardinality",
    "calledElementBinding": "a call activity calls the version deployed with it, or the latest deployed",
    "calledElementVersion": "a call activity calls the version deployed with it, or the latest deployed",
    "decisionRefBinding": "a business rule task uses the decision deployed with it",
    "resultVariable": "a script sets its variables itself: assign the result in the script",
}


def _warning(message: str, node, doc: Document, element_id: str | None = None) -> Problem:
    return Problem(message, element_id=element_id or _owner(node), line=node.sourceline, file=doc.name,
                   severity="warning")


def _owner(node) -> str | None:
    while node is not None:
        if node.get("id") and etree.QName(node).namespace == NS["bpmn"] and \
                not etree.QName(node).localname.endswith("EventDefinition"):
            return node.get("id")
        node = node.getparent()
    return None


def _ignored(name: str, prefix: str) -> str:
    hint = HINTS.get(name)
    return f"{prefix}:{name} is ignored by onewindow" + (f": {hint}" if hint else "")


def ignored_warnings(doc: Document) -> list[Problem]:
    """A warning per vendor attribute and extension element the engine does not read."""
    if doc.kind != "bpmn":
        return []
    problems = []
    for node in doc.root.iter(etree.Element):
        for attribute in node.attrib:
            qname = etree.QName(attribute)
            prefix = VENDORS.get(qname.namespace or "")
            read = qname.localname in READ and (qname.localname not in _DECISION_ONLY
                                                or etree.QName(node).localname == "businessRuleTask")
            if prefix and not read and qname.localname not in _RUN_PROBLEMS:
                problems.append(_warning(_ignored(qname.localname, prefix), node, doc))
        qname = etree.QName(node)
        prefix = VENDORS.get(qname.namespace or "")
        parent = node.getparent()
        if prefix and parent is not None and etree.QName(parent).localname == "extensionElements" \
                and qname.localname not in READ and qname.localname not in _RUN_PROBLEMS:
            problems.append(_warning(_ignored(qname.localname, prefix), node, doc))
    problems += _form_warnings(doc)
    return problems


def _form_warnings(doc: Document) -> list[Problem]:
    problems = []
    for task in doc.root.xpath(".//bpmn:userTask|.//bpmn:startEvent", namespaces=NS):
        found = form_key(task)
        if found is not None and json_form_path(found[1]) is None:
            problems.append(_warning(f"{found[0]} {found[1]!r} names a form onewindow cannot show; the task gets "
                                     "the plain approve form: give a JSON Schema (a formSchema property, or a "
                                     "form key ending in .json)", task, doc))
    return problems


# extension elements that mean "run this", which the engine cannot do yet: errors, not warnings
_RUN_PROBLEMS = frozenset({"taskDefinition", "serviceTaskOperator", "connector", "field", "type", "topic",
                           "class", "expression", "delegateExpression"})
SCRIPT_LANGUAGES = ("", "python", "text/x-python", "feel", "juel")


def service_task_problems(doc: Document) -> list[Problem]:
    """Every task that calls a system (service, send-as-job, script in another language): each is
    named, with what to do until external tasks exist."""
    if doc.kind != "bpmn":
        return []
    problems = []
    for node in doc.root.xpath(".//bpmn:sendTask|.//bpmn:intermediateThrowEvent|.//bpmn:endEvent", namespaces=NS):
        how = _job_kind(node)
        if how is not None and node.xpath(".//bpmn:messageEventDefinition", namespaces=NS) + \
                [node] * (etree.QName(node).localname == "sendTask"):
            problems.append(Problem(f"{etree.QName(node).localname} is {how}, which is ignored: onewindow "
                                    "delivers the message itself, by name and correlation key",
                                    element_id=node.get("id"), line=node.sourceline, file=doc.name,
                                    severity="warning"))
    for node in doc.root.xpath(".//bpmn:serviceTask|.//bpmn:businessRuleTask", namespaces=NS):
        how = _job_kind(node)
        if how is None:
            continue
        problems.append(Problem(
            f"{etree.QName(node).localname} is {how}: onewindow does not run external jobs yet; model the call "
            "as a user task whose form records the other system's answer, or remove the job definition",
            element_id=node.get("id"), line=node.sourceline, file=doc.name))
    for node in doc.root.xpath(".//bpmn:scriptTask", namespaces=NS):
        language = (node.get("scriptFormat") or "").strip().lower()
        if language not in SCRIPT_LANGUAGES:
            problems.append(Problem(f"scriptTask is written in {language}: scripts run as Python in the sandbox; "
                                    "fix: rewrite the script in Python and set scriptFormat=\"python\"",
                                    element_id=node.get("id"), line=node.sourceline, file=doc.name))
    return problems


def _job_kind(node) -> str | None:
    """How a task asks for work done outside the engine, or None if it does not."""
    local = etree.QName(node).localname
    for prefix in ("camunda", "activiti", "flowable"):
        kind = node.get(f"{{{NS[prefix]}}}type")
        if kind == "external":
            return f'a {prefix} external task (topic "{node.get(f"{{{NS[prefix]}}}topic", "")}")'
        for attribute in ("class", "expression", "delegateExpression"):
            if node.get(f"{{{NS[prefix]}}}{attribute}"):
                return f"a {prefix}:{attribute} Java delegate"
        if kind:
            return f"a {prefix} {kind} task"
    definitions = node.xpath("./bpmn:extensionElements/zeebe:taskDefinition", namespaces=NS)
    if definitions:
        return f'a Zeebe job (type "{definitions[0].get("type", "")}")'
    operators = node.xpath("./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", namespaces=NS)
    if operators:
        return f'a Spiff service operator ("{operators[0].get("id", "")}")'
    if node.xpath("./bpmn:extensionElements/camunda:connector", namespaces=NS):
        return "a Camunda connector"
    if local == "serviceTask":
        return "a service task with no implementation"
    return None


def neutralize_jobs(doc: Document) -> None:
    """Turn each job task into a plain task in this tree, so Spiff's parse (lint only) goes on to the
    rest of the file instead of stopping at the first service task."""
    for node in doc.root.xpath(".//bpmn:serviceTask", namespaces=NS):
        if _job_kind(node) is not None:
            node.tag = f"{{{NS['bpmn']}}}task"
            for child in node.xpath("./bpmn:extensionElements", namespaces=NS):
                node.remove(child)
