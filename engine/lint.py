"""Lint a process bundle: every problem of every stage at once, each with file, line and element id.

Deploy runs this first, so a designer sees the whole list rather than one error per attempt: the XML
Schema, the FEEL/JUEL compile, what the engine ignores (warnings) or cannot run, the conventions, the
scripts, and Spiff's own parse (:func:`engine.spiff.parser.parse_documents`), which runs even when
earlier checks failed. No error means the bundle parses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine import office
from engine.errors import Problem
from engine.form_lint import form_problems
from engine.limit_lint import limit_problems
from engine.policy import STARTER_PROPERTIES, names
from engine.spiff import people
from engine.spiff.dialects import translate
from engine.spiff.parser import (
    CONDITIONAL_GATEWAYS,
    NS,
    Document,
    element_properties,
    executable_processes,
    load_documents,
    owner_id,
    parse_documents,
    preflight_problems,
    property_sources,
    tidy_message,
    timer_elements,
    timer_expression,
)
from engine.spiff.unsupported import ignored_warnings, neutralize_jobs, service_task_problems
from engine.task_state import SEPARATE_FROM

CLOCK_VALUES = ("start", "stop", "pause")
WORKING_DAY_PROPERTIES = ("dueWorkingDays", "promisedWorkingDays")

ScriptCheck = Callable[[str, bool], list[str]]


def lint(files: dict[str, bytes], process_id: str | None = None, *,
         warning_working_days: int | None = None) -> list[Problem]:
    """Every problem of the bundle, of every stage at once, warnings among them (``is_warning``);
    no error means :func:`parse_definition` succeeds.

    ``warning_working_days``: the yellow threshold of steps that declare none (default: the office's).
    """
    office_warning = office.warning_working_days if warning_working_days is None else warning_working_days
    docs, problems = load_documents(files)
    check = _script_checker()
    for doc in docs:
        problems += schema_problems(doc)  # the file as the modeler saved it
    breaking = translate(docs)  # these (and the preflight's) break Spiff's parse too
    for doc in docs:
        problems += ignored_warnings(doc) + service_task_problems(doc)
        if doc.kind == "bpmn":
            problems += people_problems(doc) + default_flow_problems(doc) + property_problems(doc)
            problems += access_problems(doc) + limit_problems(doc, office_warning)
            problems += bpmn_script_problems(doc, check) + form_problems(doc, files)
        else:
            problems += dmn_script_problems(doc, check)
    breaking += preflight_problems(docs)
    problems += breaking
    problems += _spiff_stage(docs, process_id, breaking, any(not p.is_warning for p in problems))
    order = {name: i for i, name in enumerate(files)}
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (order.get(p.file, len(order)), p.line or 0, p.is_warning))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_warning]


def _spiff_stage(docs: list[Document], process_id: str | None, breaking: list[Problem],
                 any_error: bool) -> list[Problem]:
    """Spiff's own parse, run even when earlier checks failed, for each executable process of the
    main file (or the one named); an element already reported is not reported again."""
    if not any(d.kind == "bpmn" for d in docs) and any_error:
        return []  # the unreadable file is reported; "no BPMN file" would only repeat it
    for doc in docs:
        neutralize_jobs(doc)
    reported = {(p.file, p.element_id) for p in breaking if p.element_id}
    # Spiff names a gateway's flow where our check named the gateway: the same problem
    sources = {(d.name, f.get("id")): (d.name, f.get("sourceRef")) for d in docs if d.kind == "bpmn"
               for f in d.root.xpath(".//bpmn:sequenceFlow", namespaces=NS)}

    def new(p: Problem) -> bool:
        if not p.element_id:
            return not any_error  # Spiff's element-less follow-ups ("process not found") repeat ours
        key = (p.file, p.element_id)
        return key not in reported and sources.get(key) not in reported

    try:
        ids = [process_id] if process_id else executable_processes(docs) or [None]
    except Exception as exc:  # a parser bug must still reach the designer as a problem, not a 500
        return [Problem(f"the parser failed: {type(exc).__name__}: {exc}")]
    problems: list[Problem] = []
    for pid in ids:
        try:
            _parsed, more = parse_documents(docs, pid)
        except Exception as exc:
            more = [Problem(f"the parser failed: {type(exc).__name__}: {exc}")]
        problems += [p for p in more if new(p)]
    return problems


# --- schema ---------------------------------------------------------------------------------------


@cache
def _dmn_validator(namespace: str) -> BpmnValidator | None:
    schema = DMN_SCHEMAS.get(namespace)
    return BpmnValidator(schema) if schema else None


def schema_problems(doc: Document) -> list[Problem]:
    """All XML Schema violations (the parse stops at the first)."""
    if doc.kind == "bpmn":
        validator = VALIDATOR
        validator.preprocess(doc.root)
    else:
        validator = _dmn_validator(etree.QName(doc.root).namespace)
        if validator is None:
            return []
    schema = validator.validator
    if schema.validate(doc.root):
        return []
    return [Problem(tidy_message(e.message), line=e.line, file=doc.name) for e in schema.error_log]


# --- BPMN conventions -----------------------------------------------------------------------------


def _problem(message: str, node: etree._Element, doc: Document) -> Problem:
    return Problem(message, element_id=node.get("id"), line=node.sourceline, file=doc.name)


HUMAN_TASKS = ("userTask", "manualTask", "task")


def people_problems(doc: Document) -> list[Problem]:
    """Every human task (user task, manual task, plain task) needs someone who may claim it: a lane,
    candidate groups or users, or an assignee; an expression is tried on the process's sample data."""
    problems = []
    for process in doc.root.xpath(".//bpmn:process", namespaces=NS):
        refs = process.xpath("./bpmn:laneSet//bpmn:flowNodeRef/text()", namespaces=NS)
        placed = {ref.strip() for ref in refs}
        sample, sample_problem = people.sample_context(element_properties(process))
        if sample_problem:
            problems.append(_problem(sample_problem, process, doc))
        for task in process.xpath("|".join(f".//bpmn:{kind}" for kind in HUMAN_TASKS), namespaces=NS):
            kind = etree.QName(task).localname
            chain = [task, *task.iterancestors()]
            in_lane = any(node.get("id") in placed for node in chain[: chain.index(process)])
            fields = {k: v for k, v in element_properties(task).items() if k in people.FIELDS}
            if not in_lane and not any(v.strip() for v in fields.values()):
                problems.append(_problem(f"{kind} is in no lane and has no candidateGroups, candidateUsers or "
                                         "assignee: nobody could claim it; fix: put it in a lane (its id is the "
                                         "group) or set candidateGroups", task, doc))
                continue
            for field, value in fields.items():
                message = people.check(field, value, sample)
                if message:
                    problems.append(_problem(f"{kind} {message}", task, doc))
    return problems


def default_flow_problems(doc: Document) -> list[Problem]:
    """A default flow is taken when nothing else matches; a condition on it is silently ignored."""
    problems = []
    for kind in CONDITIONAL_GATEWAYS:
        for gateway in doc.root.xpath(f".//bpmn:{kind}[@default]", namespaces=NS):
            flow = doc.root.xpath(".//bpmn:sequenceFlow[@id=$fid]", fid=gateway.get("default"), namespaces=NS)
            if flow and "".join(flow[0].xpath("./bpmn:conditionExpression/text()", namespaces=NS)).strip():
                problems.append(_problem(f"default flow {gateway.get('default')!r} also carries a condition, "
                                         "which is never evaluated", gateway, doc))
    return problems


def property_problems(doc: Document) -> list[Problem]:
    """Properties the engine reads must hold values it understands."""
    problems = []
    for node in doc.root.xpath(".//*[bpmn:extensionElements]", namespaces=NS):
        seen: dict[str, tuple[str, str]] = {}
        for dialect, found in property_sources(node):
            for name, value in found.items():
                if name in seen and seen[name][1] != value:
                    problems.append(_problem(f"property {name!r} is {seen[name][1]!r} in {seen[name][0]} "
                                             f"but {value!r} in {dialect}", node, doc))
                seen[name] = (dialect, value)
        properties = element_properties(node)
        for name in WORKING_DAY_PROPERTIES:
            value = properties.get(name)
            if value is not None and not (value.strip().isdigit() and int(value) > 0):
                problems.append(_problem(f"{name} must be a whole number of working days, not {value!r}",
                                         node, doc))
        clock = properties.get("clock")
        if clock is not None and clock.strip() not in CLOCK_VALUES:
            allowed = ", ".join(CLOCK_VALUES)
            problems.append(_problem(f"clock must be one of {allowed}, not {clock!r}", node, doc))
        for field in people.FIELDS:
            if properties.get(field, "x").strip() in ("", "="):
                problems.append(_problem(f"{field} is empty", node, doc))
    return problems


_NAME_LISTS = ("separateFrom", "deliverableBy", *STARTER_PROPERTIES)


def access_problems(doc: Document) -> list[Problem]:
    """Who may start, deliver and act (engine.policy, engine.task_state): names that exist."""
    problems = []
    for node in doc.root.xpath(".//*[bpmn:extensionElements] | .//bpmn:process", namespaces=NS):
        properties = element_properties(node)
        for name in _NAME_LISTS:
            value = properties.get(name)
            if value is None:
                continue
            listed = names(value)
            if not listed:
                problems.append(_problem(f"{name} names nobody", node, doc))
            bad = sorted(n for n in listed if not n.replace("_", "").replace("-", "").isalnum())
            if bad:
                problems.append(_problem(f"{name}: {', '.join(map(repr, bad))} is not a group, role or step id",
                                         node, doc))
    for process in doc.root.xpath(".//bpmn:process", namespaces=NS):
        steps = {t.get("id") for t in process.xpath(".//bpmn:userTask", namespaces=NS)}
        for task in process.xpath(".//bpmn:userTask", namespaces=NS):
            listed = names(element_properties(task).get(SEPARATE_FROM))
            for missing in sorted(listed - steps):
                problems.append(_problem(f"separateFrom names {missing!r}, which is not a user task of process "
                                         f"{process.get('id')!r}", task, doc))
            if task.get("id") in listed:
                problems.append(_problem("separateFrom names the step itself", task, doc))
    return problems


# --- scripts and expressions ----------------------------------------------------------------------


def _script_checker() -> ScriptCheck:
    """The sandbox's own static check; until it exists, a plain syntax check."""
    try:
        from engine.spiff.script_engine import check_script
    except ModuleNotFoundError as exc:
        if exc.name != "engine.spiff.script_engine":
            raise
        return _syntax_errors
    return lambda source, expression: check_script(source, expression=expression)


def _syntax_errors(source: str, expression: bool) -> list[str]:
    try:
        compile(source.strip() if expression else source, "<string>", "eval" if expression else "exec")
    except SyntaxError as exc:
        return [f"Line {exc.lineno}: SyntaxError: {exc.msg}"]
    return []


def _checked(what: str, source: str, expression: bool, node, doc: Document, check: ScriptCheck,
             element_id: str | None = None) -> list[Problem]:
    return [
        Problem(f"{what} refused: {message}", element_id=element_id or owner_id(node), line=node.sourceline,
                file=doc.name)
        for message in check(source, expression)
    ]


def bpmn_script_problems(doc: Document, check: ScriptCheck) -> list[Problem]:
    """Scripts, conditions, timer and candidate-group expressions the sandbox would refuse."""
    problems = []
    for node in doc.root.xpath(".//bpmn:scriptTask/bpmn:script", namespaces=NS):
        problems += _checked("script", node.text or "", False, node, doc, check)
    for node in doc.root.xpath(".//spiffworkflow:preScript|.//spiffworkflow:postScript", namespaces=NS):
        problems += _checked(etree.QName(node).localname, node.text or "", False, node, doc, check)
    for node in doc.root.xpath(".//bpmn:conditionExpression", namespaces=NS):
        if (node.text or "").strip():
            problems += _checked("condition", node.text, True, node, doc, check)
    for node in timer_elements(doc):
        replacement, error = timer_expression(etree.QName(node).localname, node.text or "")
        if error is None and replacement is None:  # an expression, evaluated at run time
            problems += _checked("timer expression", node.text, True, node, doc, check)
    for node in doc.root.xpath("|".join(f".//bpmn:{kind}" for kind in HUMAN_TASKS), namespaces=NS):
        for field, value in element_properties(node).items():
            if field in people.FIELDS and value.strip().startswith("=") and value.strip()[1:].strip():
                problems += _checked(f"{field} expression", value.strip()[1:], True, node, doc, check)
    return problems


def dmn_script_problems(doc: Document, check: ScriptCheck) -> list[Problem]:
    """DMN input expressions and cells are Python expressions run by the same sandbox."""
    problems = []
    for node in doc.root.xpath(".//*[local-name()='inputExpression' or local-name()='outputEntry']"):
        text = "".join(node.xpath("./*[local-name()='text']/text()")).strip()
        if text:
            problems += _checked("DMN expression", text, True, node, doc, check, node.get("id"))
    for node in doc.root.xpath(".//*[local-name()='inputEntry']"):
        text = "".join(node.xpath("./*[local-name()='text']/text()")).strip()
        if text and text != "-":
            problems += _input_entry_problems(text, node, doc, check)
    return problems


def _input_entry_problems(text: str, node, doc: Document, check: ScriptCheck) -> list[Problem]:
    # Spiff reads a cell as a value to compare with (`"food"`), a test with `?` (`? in ("a", "b")`)
    # or an operator tail (`< 5`), in that order.
    candidates = [text.replace("?", "dmninputexpr"), f"dmninputexpr {text}"]
    for candidate in candidates:
        if not _syntax_errors(candidate, True):
            return _checked("DMN input entry", candidate, True, node, doc, check, node.get("id"))
    return [Problem(f"DMN input entry {text!r} is neither a value, a ?-test nor an operator tail",
                    element_id=node.get("id"), line=node.sourceline, file=doc.name)]
