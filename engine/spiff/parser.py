"""SpiffWorkflow's BPMN parser, taught the dialects our designers draw in.

Designers use the Spiff editor, Camunda Modeler (7 or 8) or plain bpmn.io. This module reads all of
them into one shape: extension properties from ``spiffworkflow:``, ``camunda:`` and ``zeebe:`` become
``task_spec.extensions['properties']``; unquoted ISO 8601 timers (``P60D``) become string literals;
``camunda:decisionRef`` and ``zeebe:calledDecision`` name a DMN decision like
``spiffworkflow:calledDecisionId``; a lane's *id* (not its label) is the task's lane. The conventions
are written up for designers in ``bpmn/CONVENTIONS.md``.

XML is parsed here, with a hardened lxml parser, and handed to Spiff as trees: Spiff never reads bytes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import UserTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask

from engine.errors import DefinitionInvalid, Problem
from engine.spiff import decisions, item_events
from engine.spiff.dialects import translate
from engine.spiff.documents import (  # noqa: F401  (re-exported: lint and tests read them from here)
    BPMN_NS,
    NS,
    Document,
    element_properties,
    load_documents,
    owner_id,
    property_sources,
)

CONDITIONAL_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")


@dataclass
class UserTaskInfo:
    element_id: str
    name: str | None
    lane: str | None
    candidate_groups: str | None
    properties: dict[str, str]
    process_id: str = ""
    lane_name: str | None = None


@dataclass
class ParsedDefinition:
    process_id: str
    name: str | None
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    process_properties: dict[str, str]
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    messages: set[str] = field(default_factory=set)
    # message name -> the names its deliverableBy property gives (on the message or where it is caught)
    message_senders: dict[str, list[str]] = field(default_factory=dict)


def decision_ref(node: etree._Element) -> str | None:
    """The DMN decision a businessRuleTask calls, in any of the three dialects."""
    spiff = node.xpath("./bpmn:extensionElements/spiffworkflow:calledDecisionId/text()", namespaces=NS)
    zeebe = node.xpath("./bpmn:extensionElements/zeebe:calledDecision/@decisionId", namespaces=NS)
    found = [v.strip() for v in [*spiff, node.get(f"{{{NS['camunda']}}}decisionRef") or "", *zeebe] if v]
    return found[0] if found else None


def result_variable(node: etree._Element) -> tuple[str | None, str]:
    """Where a business rule task puts the decision's result, and in which shape."""
    for prefix in ("camunda", "activiti", "flowable"):
        name = node.get(f"{{{NS[prefix]}}}resultVariable")
        if name:
            return name.strip(), node.get(f"{{{NS['camunda']}}}mapDecisionResult") or "resultList"
    zeebe = node.xpath("./bpmn:extensionElements/zeebe:calledDecision/@resultVariable", namespaces=NS)
    return (zeebe[0].strip(), "zeebe") if zeebe and zeebe[0].strip() else (None, "resultList")


class _PropertiesMixin:
    """Every node parser: ``extensions['properties']`` holds the merged properties of all dialects;
    errors and escalations carry the thrower's data (``engine.spiff.item_events``)."""

    def parse_extensions(self, node=None):
        extensions = dict(super().parse_extensions(node))
        extensions["properties"] = element_properties(self.node if node is None else node)
        return extensions

    def parse_error_event(self, error_event):
        return item_events.keeping_data(super().parse_error_event(error_event))

    def parse_escalation_event(self, escalation_event):
        return item_events.keeping_data(super().parse_escalation_event(escalation_event))


class _BusinessRuleTaskParser(_PropertiesMixin, BusinessRuleTaskParser):
    @staticmethod
    def get_decision_ref(node):
        return decision_ref(node)


def _with_properties(parser_class):
    return type(f"OneWindow{parser_class.__name__}", (_PropertiesMixin, parser_class), {})


_SPIFF_PARSERS = BpmnParser.PARSER_CLASSES | SpiffBpmnParser.OVERRIDE_PARSER_CLASSES


class OneWindowParser(SpiffBpmnParser):
    """Spiff's parser plus Camunda/Zeebe properties and decision refs; lanes are known by id."""

    OVERRIDE_PARSER_CLASSES = {
        tag: (_with_properties(parser), spec)
        for tag, (parser, spec) in _SPIFF_PARSERS.items()
    } | {full_tag("businessRuleTask"): (_BusinessRuleTaskParser, BusinessRuleTask)}

    def __init__(self, validator=VALIDATOR):
        super().__init__(validator=validator)
        self.lane_names: dict[str, str | None] = {}
        self.decision_needs: dict[str, list[str]] = {}

    def add_dmn_document(self, root, filename: str) -> None:
        """Each decision of a DRD file as a file of its own (Spiff reads one decision per file)."""
        self.decision_needs.update(decisions.requirements(root))
        for tree in decisions.split(root):
            self.add_dmn_xml(tree, filename=filename)

    def get_engine(self, decision_ref, node):
        engine = super().get_engine(decision_ref, node)
        try:
            order = decisions.evaluation_order(decision_ref, self.decision_needs)
        except ValueError as exc:
            raise ValidationException(str(exc), node=node, file_name="") from None
        required = [(d, super(OneWindowParser, self).get_engine(d, node).decision_table) for d in order]
        variable, mode = result_variable(node)
        return decisions.ChainedDMNEngine(engine.decision_table, required, variable, mode)

    def _add_diagram_indexes(self, bpmn):
        # Spiff keys lanes by their label; a label is for people, so the group is the lane id.
        super()._add_diagram_indexes(bpmn)
        lanes = {}
        for ref in bpmn.xpath(".//bpmn:flowNodeRef", namespaces=self.namespaces):
            lane = ref.getparent()
            if ref.text:
                lanes[ref.text.strip()] = lane.get("id")
                self.lane_names[lane.get("id")] = lane.get("name")
        self.document_lanes[self._document_key(bpmn)] = lanes


# --- timers ---------------------------------------------------------------------------------------

_LOOKS_ISO = re.compile(r"(R\d*/|P[\dT]|\d)", re.IGNORECASE)
_DURATION = re.compile(
    r"P(\d+([.,]\d+)?W|(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?)",
    re.IGNORECASE,
)


def iso_timer_error(kind: str, value: str) -> str | None:
    """Why ``value`` is not a valid ISO 8601 literal for a ``timeDate|timeDuration|timeCycle``, or None."""
    try:
        if kind == "timeDuration":
            if not _DURATION.fullmatch(value):
                return f"{value!r} is not an ISO 8601 duration (e.g. PT2H, P60D)"
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeCycle":
            if not re.fullmatch(r"R\d*/\S+", value, re.IGNORECASE):
                return f"{value!r} is not an ISO 8601 repeating interval (e.g. R/P1D, R3/PT10M)"
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            if value.upper().startswith("P"):
                return f"{value!r} is a duration; a timeDate needs a date-time (2026-03-01T09:00:00+08:00)"
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # Spiff's ISO helpers raise anything from ValueError to AttributeError
        return f"{value!r} is not a valid ISO 8601 {kind[4:].lower()}"
    return None


def timer_expression(kind: str, text: str) -> tuple[str | None, str | None]:
    """Classify a timer text: (replacement expression or None, error or None).

    An unquoted ISO literal is returned quoted; a quoted literal must hold valid ISO; anything else
    is a Python expression evaluated at run time and must at least compile.
    """
    text = text.strip()
    if not text:
        return None, "the timer has no expression"
    if text[0] in "\"'":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            return None, iso_timer_error(kind, value.strip())
    elif _LOOKS_ISO.match(text):
        error = iso_timer_error(kind, text)
        return (None, error) if error else (repr(text), None)
    try:
        compile(text, "<timer>", "eval")
    except SyntaxError as exc:
        return None, f"{text!r} is neither an ISO 8601 literal nor a valid expression ({exc.msg})"
    return None, None


def timer_elements(doc: Document) -> Iterable[etree._Element]:
    return doc.root.xpath(".//bpmn:timeDate|.//bpmn:timeDuration|.//bpmn:timeCycle", namespaces=NS)


def normalize_timers(doc: Document) -> list[Problem]:
    """Quote unquoted ISO literals in place; report timers that can never work."""
    problems = []
    for element in timer_elements(doc):
        replacement, error = timer_expression(etree.QName(element).localname, element.text or "")
        if error:
            problems.append(Problem(error, owner_id(element), element.sourceline, doc.name))
        elif replacement is not None:
            element.text = replacement
    return problems


# --- checks Spiff would otherwise fail on, with worse messages ------------------------------------


def _problem(message: str, node: etree._Element, doc: Document) -> Problem:
    return Problem(message, element_id=node.get("id"), line=node.sourceline, file=doc.name)


def reference_problems(docs: list[Document]) -> list[Problem]:
    """Call activities and business rule tasks that point at nothing in the bundle."""
    processes = {
        p.get("id") for d in docs if d.kind == "bpmn" for p in d.root.xpath(".//bpmn:process", namespaces=NS)
    }
    usable = {e.get("id") for d in docs if d.kind == "dmn" for e in decisions.decisions_of(d.root)}
    problems = []
    for doc in (d for d in docs if d.kind == "bpmn"):
        for call in doc.root.xpath(".//bpmn:callActivity", namespaces=NS):
            target = call.get("calledElement")
            if not target:
                problems.append(_problem("callActivity has no calledElement", call, doc))
            elif target not in processes:
                problems.append(_problem(f"called process {target!r} is in none of the files; fix: give its "
                                         "file in the bundle, or deploy it first (deploy then finds it)", call, doc))
        for task in doc.root.xpath(".//bpmn:businessRuleTask", namespaces=NS):
            ref = decision_ref(task)
            if ref is None:
                problems.append(_problem("businessRuleTask names no decision (calledDecisionId or "
                                         "decisionRef)", task, doc))
            elif ref not in usable:
                problems.append(_problem(f"decision {ref!r} is in none of the DMN files", task, doc))
    return problems


def gateway_problems(doc: Document) -> list[Problem]:
    """Diverging exclusive/inclusive gateways whose flows cannot all be decided."""
    problems = []
    flows: dict[str, list[etree._Element]] = {}
    for flow in doc.root.xpath(".//bpmn:sequenceFlow", namespaces=NS):
        flows.setdefault(flow.get("sourceRef"), []).append(flow)
    for kind in CONDITIONAL_GATEWAYS:
        for gateway in doc.root.xpath(f".//bpmn:{kind}", namespaces=NS):
            outgoing = flows.get(gateway.get("id"), [])
            default = gateway.get("default")
            if default and default not in {f.get("id") for f in outgoing}:
                problems.append(_problem(f"default flow {default!r} is not an outgoing flow of this gateway",
                                         gateway, doc))
            if len(outgoing) < 2:
                continue
            bare = [f.get("id") for f in outgoing if f.get("id") != default and not _condition_text(f)]
            if bare:
                why = "are not the gateway's default" if default else "the gateway has no default flow"
                problems.append(_problem(f"outgoing flows without a condition ({', '.join(bare)}) and {why}",
                                         gateway, doc))
    return problems


def _condition_text(flow: etree._Element) -> str:
    return "".join(flow.xpath("./bpmn:conditionExpression/text()", namespaces=NS)).strip()


def preflight_problems(docs: list[Document]) -> list[Problem]:
    """Normalize timers and report what would break the Spiff parse or the first run."""
    problems = []
    for doc in (d for d in docs if d.kind == "bpmn"):
        problems += normalize_timers(doc)
        problems += gateway_problems(doc)
    return problems + reference_problems(docs)


# --- the API the runtime uses ---------------------------------------------------------------------


def prepare(files: dict[str, bytes]) -> tuple[list[Document], list[Problem]]:
    """Read a bundle, rewrite its FEEL and JUEL as Python and normalize its timers: the trees Spiff
    is given, and every problem found on the way."""
    docs, problems = load_documents(files)
    problems += translate(docs)
    problems += preflight_problems(docs)
    return docs, problems


def parse_definition(files: dict[str, bytes], process_id: str | None = None) -> ParsedDefinition:
    """Parse a bundle (BPMN, DMN and called-process files) into Spiff specs for one process.

    With ``process_id`` None, the single executable process of the first BPMN file is taken.
    Raises DefinitionInvalid listing every problem found.
    """
    docs, problems = prepare(files)
    if problems:
        raise DefinitionInvalid("The process definition is invalid.", problems)
    parsed, problems = parse_documents(docs, process_id)
    if parsed is None:
        raise DefinitionInvalid("The process definition is invalid.", problems)
    return parsed


def parse_documents(docs: list[Document], process_id: str | None = None
                    ) -> tuple[ParsedDefinition | None, list[Problem]]:
    """Spiff's own parse of prepared trees: the definition, or None and every problem Spiff raised
    (one per file at most: Spiff stops a file at its first error)."""
    problems: list[Problem] = []
    parser = OneWindowParser()
    for doc in docs:
        try:
            if doc.kind == "bpmn":
                parser.add_bpmn_xml(doc.root, filename=doc.name)
            else:
                parser.add_dmn_document(doc.root, filename=doc.name)
        except Exception as exc:  # ValidationException and whatever Spiff lets through
            problems.append(spiff_problem(exc, docs, doc.name))
    try:
        process_node = _choose_process(docs, process_id)
    except DefinitionInvalid as exc:
        return None, problems + exc.problems
    if problems:
        return None, problems
    try:
        subprocess_specs = parser.get_subprocess_specs(process_node.get("id"))
        spec = parser.get_spec(process_node.get("id"))
    except Exception as exc:
        return None, [spiff_problem(exc, docs)]
    specs = [spec, *subprocess_specs.values()]
    return ParsedDefinition(
        process_id=spec.name,
        name=process_node.get("name"),
        spec=spec,
        subprocess_specs=subprocess_specs,
        process_properties=element_properties(process_node),
        user_tasks=_user_tasks(specs, parser.lane_names),
        messages=_catch_messages(specs),
        message_senders=message_senders(docs),
    ), []


def executable_processes(docs: list[Document]) -> list[str]:
    """The executable processes of the bundle's main (first) BPMN file."""
    bpmn = [d for d in docs if d.kind == "bpmn"]
    if not bpmn:
        return []
    processes = bpmn[0].root.xpath("./bpmn:process", namespaces=NS)
    return [p.get("id") for p in processes if p.get("isExecutable", "true") == "true"]


def _choose_process(docs: list[Document], process_id: str | None) -> etree._Element:
    bpmn = [d for d in docs if d.kind == "bpmn"]
    if not bpmn:
        raise DefinitionInvalid("The bundle has no BPMN file.", [Problem("no .bpmn file in the bundle")])
    if process_id is not None:
        for doc in bpmn:
            for node in doc.root.xpath(".//bpmn:process[@id=$pid]", pid=process_id, namespaces=NS):
                return node
        problem = Problem(f"process {process_id!r} is in none of the files", field="process_id")
        raise DefinitionInvalid("Unknown process.", [problem])
    first = bpmn[0]
    candidates = executable_processes(docs)
    if len(candidates) != 1:
        ids = ", ".join(candidates) or "none"
        raise DefinitionInvalid("Which process?", [Problem(
            f"expected one executable process in {first.name}, found {len(candidates)} ({ids}); name one with "
            "--process ID (onewindow deploy/lint) or process_id (the deploy API)", file=first.name,
            field="process_id")])
    return first.root.xpath("./bpmn:process[@id=$pid]", pid=candidates[0], namespaces=NS)[0]


def spiff_problem(exc: Exception, docs: list[Document], file: str | None = None) -> Problem:
    """A Problem from a Spiff exception; Spiff rarely knows the line, so look the element up."""
    message = exc.args[0] if exc.args else type(exc).__name__
    notes = [*getattr(exc, "notes", []), *getattr(exc, "__notes__", [])]
    message = ". ".join(str(p) for p in [message, *notes])
    if not isinstance(exc, ValidationException):
        message = f"{type(exc).__name__}: {message}"
    element_id = getattr(exc, "id", None) or None
    file = getattr(exc, "file_name", None) or file
    line = getattr(exc, "line_number", None) or None
    if element_id and line is None:
        for doc in sorted(docs, key=lambda d: d.name != file):
            found = doc.root.xpath(".//*[@id=$eid]", eid=element_id)
            if found:
                file, line = doc.name, found[0].sourceline
                break
    return Problem(tidy_message(str(message)), element_id=element_id, line=line, file=file)


def tidy_message(message: str) -> str:
    """Schema messages spell namespaces out in full; designers know them as prefixes."""
    for prefix, uri in NS.items():
        message = message.replace(f"{{{uri}}}", f"{prefix}:")
    return message


def _user_tasks(specs: list[BpmnProcessSpec], lane_names: dict[str, str | None]) -> list[UserTaskInfo]:
    tasks = []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, UserTaskMixin):
                properties = dict(task_spec.extensions.get("properties", {}))
                tasks.append(UserTaskInfo(
                    element_id=task_spec.bpmn_id,
                    name=task_spec.bpmn_name,
                    lane=task_spec.lane,
                    candidate_groups=properties.get("candidateGroups"),
                    properties=properties,
                    process_id=spec.name,
                    lane_name=lane_names.get(task_spec.lane),
                ))
    return tasks


def message_senders(docs: list[Document]) -> dict[str, list[str]]:
    """Who may deliver each message: ``deliverableBy`` on the bpmn:message, on a receive task or on a
    catch event that references it (merged over the bundle). A message no one names: the system only."""
    found: dict[str, set[str]] = {}
    for doc in docs:
        if doc.kind != "bpmn":
            continue
        by_id = {m.get("id"): m for m in doc.root.xpath(".//bpmn:message", namespaces=NS)}
        for message in by_id.values():
            if message.get("name"):
                found.setdefault(message.get("name"), set()).update(_senders(message))
        for ref in doc.root.xpath(".//*[@messageRef]", namespaces=NS):
            message = by_id.get(ref.get("messageRef"))
            if message is None or not message.get("name"):
                continue
            # the event definition is a child of the event whose properties the designer set
            owner = ref.getparent() if etree.QName(ref).localname == "messageEventDefinition" else ref
            found.setdefault(message.get("name"), set()).update(_senders(owner))
    return {name: sorted(senders) for name, senders in sorted(found.items()) if senders}


def _senders(node: etree._Element) -> set[str]:
    value = element_properties(node).get("deliverableBy", "")
    return {n.strip() for n in value.split(",") if n.strip()}


def _message_events(specs: list[BpmnProcessSpec]) -> Iterable[MessageEventDefinition]:
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, CatchingEvent):
                definition = task_spec.event_definition
                if isinstance(definition, MultipleEventDefinition):
                    nested = definition.event_definitions
                    yield from (d for d in nested if isinstance(d, MessageEventDefinition))
                elif isinstance(definition, MessageEventDefinition):
                    yield definition


def _catch_messages(specs: list[BpmnProcessSpec]) -> set[str]:
    """Names of messages the process waits for.

    Spiff drops a caught payload unless the event names a variable; ours lands in data[<message name>]
    unless the designer set ``spiffworkflow:messageVariable``.
    """
    names = set()
    for event in _message_events(specs):
        if event.name:
            names.add(event.name)
            if getattr(event, "message_var", "") is None:
                event.message_var = event.name
    return names
