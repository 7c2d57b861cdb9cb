"""Which expression language each text of a file is in, rewritten as Python for the sandbox.

Every modeler writes its own: Camunda 8 writes FEEL after ``=``, Camunda 7, Activiti and Flowable
write JUEL in ``${...}`` / ``#{...}``, DMN tables hold FEEL, and the Spiff editor (and this
repository's reference files) write Python. Per text, in this order:

1. a ``language`` / ``expressionLanguage`` attribute on the element (or, in DMN, on its column or the
   file) names it: ``feel``, ``juel``, ``python``;
2. a text starting with ``=`` is FEEL; a text with ``${`` or ``#{`` is JUEL;
3. otherwise a BPMN condition or timer expression is Python, and a DMN file is FEEL unless one of its
   cells is written in Python (``True``/``False``/``None``, ``==``, single quotes, ``not in``).

:func:`translate` rewrites the texts of the parsed trees in place before Spiff reads them, so the
specs Spiff builds hold Python only (``engine.spiff.feel``, ``engine.spiff.juel``), and returns a
:class:`Problem` for each text that cannot be compiled, naming the element and what to write.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import Problem
from engine.spiff import feel, juel
from engine.spiff.documents import NS, Document, owner_id, people_sources, property_sources

LANGUAGES = ("feel", "juel", "python")
KEY = "correlationKey"
_PY_MARKERS = re.compile(r"\b(True|False|None)\b|==|\bnot in\b|'|\bdmninputexpr\b")


def language_of(text: str, declared: str | None = None, default: str = "python") -> str:
    """``feel``, ``juel``, ``python``, or the unsupported language a designer declared."""
    name = (declared or "").strip().lower()
    if name:
        if "feel" in name:
            return "feel"
        if "juel" in name or name in ("el", "uel"):
            return "juel"
        if "python" in name:
            return "python"
        return name
    stripped = text.strip()
    if stripped.startswith("="):
        return "feel"
    if juel.is_juel(stripped):
        return "juel"
    return default


def compile_text(text: str, purpose: str, language: str) -> str:
    """The Python source for ``text`` used as ``purpose`` (``condition``, ``value`` or ``timer``).

    Raises :class:`feel.ExpressionError`.
    """
    if language == "feel":
        stripped = text.strip()
        return getattr(feel, purpose)(stripped[1:] if stripped.startswith("=") else stripped)
    if language == "juel":
        return getattr(juel, purpose)(text)
    if language == "python":
        return text
    raise feel.ExpressionError(f"{language} expressions do not run in onewindow",
                               "write FEEL (after =), JUEL (${...}) or a Python expression")


def _problem(what: str, text: str, language: str, exc: feel.ExpressionError, node, doc: Document,
             element_id: str | None = None) -> Problem:
    shown = text.strip() if len(text.strip()) <= 80 else text.strip()[:77] + "..."
    message = f"{what} ({language.upper()} `{shown}`): {exc.reason}"
    if exc.fix:
        message += f"; fix: {exc.fix}"
    return Problem(message, element_id=element_id or owner_id(node), line=node.sourceline, file=doc.name)


def _rewrite(node, what: str, purpose: str, doc: Document, problems: list[Problem], *, default: str = "python",
             literal_unless_marked: bool = False) -> None:
    text = node.text or ""
    if not text.strip():
        return
    language = language_of(text, node.get("language"), default)
    if literal_unless_marked and language == default and node.get("language") is None:
        return
    try:
        node.text = compile_text(text, purpose, language)
    except feel.ExpressionError as exc:
        problems.append(_problem(what, text, language, exc, node, doc))
        node.text = "None"  # reported; later checks must not report the same text again as Python


# --- BPMN -------------------------------------------------------------------------------------------


def _people(doc: Document, problems: list[Problem]) -> None:
    """An expression in assignee / candidateUsers / candidateGroups becomes ``=`` + Python; a literal
    (``market_dept``, ``alice, bob``) stays as written."""
    tasks = doc.root.xpath(".//bpmn:userTask|.//bpmn:manualTask|.//bpmn:task", namespaces=NS)
    for task in tasks:
        for dialect, field, text, where in people_sources(task):
            python = _people_expression(text, f"{field} of {dialect}", task, doc, problems)
            if python is not None:
                attribute = field if where is not task else f"{{{NS[dialect]}}}{field}"
                where.set(attribute, python)
        for _dialect, found in property_sources(task):
            for field in ("assignee", "candidateUsers", "candidateGroups"):
                if field in found:
                    python = _people_expression(found[field], f"{field} property", task, doc, problems)
                    if python is not None:
                        _set_property(task, field, found[field], python)


def _people_expression(text: str, what: str, task, doc: Document, problems: list[Problem]) -> str | None:
    language = language_of(text, None, "literal")
    if language == "literal" or text.strip() == "=":
        return None  # an empty `=` is reported as an empty field
    try:
        return "=" + compile_text(text, "value", language)
    except feel.ExpressionError as exc:
        problems.append(_problem(what, text, language, exc, task, doc))
        return "=None"  # names nobody: lint has said why, and deploy stops there


def _correlations(doc: Document, problems: list[Problem]) -> None:
    """A message's ``zeebe:subscription correlationKey`` becomes the ``correlationKey`` property of
    every element that throws or catches it; a ``correlationKey`` expression is compiled."""
    keys = {}
    for message in doc.root.xpath(".//bpmn:message[bpmn:extensionElements/zeebe:subscription]", namespaces=NS):
        keys[message.get("id")] = message.xpath("./bpmn:extensionElements/zeebe:subscription/@correlationKey",
                                                namespaces=NS)[0]
    for ref in doc.root.xpath(".//*[@messageRef]"):
        element = ref if etree.QName(ref).localname.endswith("Task") else ref.getparent()
        if ref.get("messageRef") in keys and not any(KEY in found for _d, found in property_sources(element)):
            _add_property(element, KEY, keys[ref.get("messageRef")])
    for element in doc.root.xpath(".//*[bpmn:extensionElements]", namespaces=NS):
        for _dialect, found in property_sources(element):
            if KEY in found:
                python = _people_expression(found[KEY], f"{KEY} property", element, doc, problems)
                if python is not None:
                    _set_property(element, KEY, found[KEY], python)


def _add_property(element, name: str, value: str) -> None:
    extensions = element.find(f"{{{NS['bpmn']}}}extensionElements")
    if extensions is None:
        extensions = etree.Element(f"{{{NS['bpmn']}}}extensionElements")
        element.insert(0, extensions)
    holder = extensions.find(f"{{{NS['zeebe']}}}properties")
    if holder is None:
        holder = etree.SubElement(extensions, f"{{{NS['zeebe']}}}properties")
    etree.SubElement(holder, f"{{{NS['zeebe']}}}property", name=name, value=value)


def _set_property(task, name: str, old: str, new: str) -> None:
    for prop in task.xpath("./bpmn:extensionElements/*/*[@name=$n]", n=name, namespaces=NS):
        if etree.QName(prop).localname == "property" and prop.get("value") == old:
            prop.set("value", new)


def _mappings(doc: Document, problems: list[Problem]) -> None:
    """Input/output mappings (``camunda:inputOutput``, ``zeebe:ioMapping``) become the task's Spiff
    pre-script (inputs, before the task) and post-script (outputs, after it)."""
    for task in doc.root.xpath(".//bpmn:*[bpmn:extensionElements/camunda:inputOutput or "
                               "bpmn:extensionElements/zeebe:ioMapping]", namespaces=NS):
        lines: dict[str, list[str]] = {"preScript": [], "postScript": []}
        specs = [(p, "preScript", p.get("name"), p.text or "", "juel")
                 for p in task.xpath("./bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter",
                                     namespaces=NS)]
        specs += [(p, "postScript", p.get("name"), p.text or "", "juel")
                  for p in task.xpath("./bpmn:extensionElements/camunda:inputOutput/camunda:outputParameter",
                                      namespaces=NS)]
        for kind, script in (("input", "preScript"), ("output", "postScript")):
            for m in task.xpath(f"./bpmn:extensionElements/zeebe:ioMapping/zeebe:{kind}", namespaces=NS):
                specs.append((m, script, m.get("target"), m.get("source") or "", "feel"))
        for node, script, target, source, default in specs:
            if len(node):
                problems.append(Problem(f"mapping {target!r} is a {etree.QName(node[0]).localname}; only a value "
                                        "or an expression maps: fix: write it as one expression",
                                        element_id=task.get("id"), line=node.sourceline, file=doc.name))
                continue
            try:
                name = feel.python_name(target or "")
                language = language_of(source, None, default)
                if language == "juel" or (language == "feel" and source.strip().startswith("=")):
                    python = compile_text(source, "value", language)
                else:
                    python = feel.py_string(source)  # a literal text value
            except feel.ExpressionError as exc:
                problems.append(_problem(f"mapping {target!r}", source, default, exc, node, doc, task.get("id")))
                continue
            lines[script].append(f"{name} = {python}")
        for script, body in lines.items():
            if body:
                _append_script(task, script, body)


def _append_script(task, script: str, body: list[str]) -> None:
    extensions = task.find(f"{{{NS['bpmn']}}}extensionElements")
    node = extensions.find(f"{{{NS['spiffworkflow']}}}{script}")
    # the leading `_.value(None)` marks the script as compiled FEEL/JUEL: missing variables read as null
    generated = "\n".join(["_.value(None)", *body])
    if node is None:
        etree.SubElement(extensions, f"{{{NS['spiffworkflow']}}}{script}").text = generated
    elif script == "preScript":
        node.text = f"{generated}\n{node.text or ''}"
    else:
        node.text = f"{node.text or ''}\n{generated}"


def _called_elements(doc: Document, problems: list[Problem]) -> None:
    """Camunda 8 names a call activity's process in ``<zeebe:calledElement processId>``."""
    for call in doc.root.xpath(".//bpmn:callActivity[not(@calledElement)]", namespaces=NS):
        found = call.xpath("./bpmn:extensionElements/zeebe:calledElement/@processId", namespaces=NS)
        if not found:
            continue
        if found[0].strip().startswith("="):
            problems.append(Problem(f"zeebe:calledElement processId {found[0]!r} is an expression: the called "
                                    "process is fixed at deploy; fix: write its process id",
                                    element_id=call.get("id"), line=call.sourceline, file=doc.name))
        else:
            call.set("calledElement", found[0].strip())


def called_processes(doc: Document) -> set[str]:
    """The process ids the file's call activities call."""
    return {c.get("calledElement") or "".join(c.xpath("./bpmn:extensionElements/zeebe:calledElement/@processId",
                                                     namespaces=NS))
            for c in doc.root.xpath(".//bpmn:callActivity", namespaces=NS)} - {""}


def translate_bpmn(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    _called_elements(doc, problems)
    for node in doc.root.xpath(".//bpmn:conditionExpression|.//bpmn:completionCondition", namespaces=NS):
        _rewrite(node, "condition", "condition", doc, problems)
    for node in doc.root.xpath(".//bpmn:loopCardinality", namespaces=NS):
        _rewrite(node, "loop cardinality", "value", doc, problems)
    for node in doc.root.xpath(".//bpmn:timeDate|.//bpmn:timeDuration|.//bpmn:timeCycle", namespaces=NS):
        _rewrite(node, "timer", "timer", doc, problems, literal_unless_marked=True)
    _people(doc, problems)
    _correlations(doc, problems)
    _mappings(doc, problems)
    return problems


# --- DMN --------------------------------------------------------------------------------------------


def dmn_language(doc: Document) -> str:
    """The file's language: declared on ``definitions``, else Python if any cell is Python, else FEEL."""
    declared = doc.root.get("expressionLanguage")
    if declared:
        return language_of("", declared)
    for node in doc.root.xpath(".//*[local-name()='text']"):
        if _PY_MARKERS.search(_outside_strings(node.text or "")) or "'" in (node.text or ""):
            return "python"
    return "feel"


def _outside_strings(text: str) -> str:
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def dmn_language_of(declared: str | None, default: str) -> str:
    """A DMN cell's language: declared, or the file's (DMN has no `=` prefix: `== 0` is Python)."""
    return language_of("", declared, default) if declared else default


def _declared(node) -> str | None:
    """An ``expressionLanguage`` on the entry, its column or its table (nearest wins)."""
    for n in (node, *node.iterancestors()):
        if n.get("expressionLanguage"):
            return n.get("expressionLanguage")
    return None


def translate_dmn(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    default = dmn_language(doc)

    def text_of(node):
        found = node.xpath("./*[local-name()='text']")
        return found[0] if found else None

    for node in doc.root.xpath(".//*[local-name()='inputExpression' or local-name()='outputEntry']"):
        text = text_of(node)
        if text is None or not (text.text or "").strip():
            continue
        language = dmn_language_of(_declared(node), default)
        if language == "feel" and text.text.strip() == "-":
            continue
        try:
            text.text = compile_text(text.text, "value", language)
        except feel.ExpressionError as exc:
            problems.append(_problem("DMN expression", text.text, language, exc, node, doc, node.get("id")))
    for node in doc.root.xpath(".//*[local-name()='inputEntry']"):
        text = text_of(node)
        if text is None:
            continue
        language = dmn_language_of(_declared(node), default)
        if language == "python":
            continue
        if language != "feel":
            exc = feel.ExpressionError(f"input entries are FEEL unary tests, not {language}",
                                       'write a test such as < 5, [1..10], "a", "b" or -')
            problems.append(_problem("DMN input entry", text.text or "", language, exc, node, doc, node.get("id")))
            continue
        try:
            python = feel.unary_tests(text.text or "")
        except feel.ExpressionError as exc:
            problems.append(_problem("DMN input entry", text.text or "", "feel", exc, node, doc, node.get("id")))
            continue
        text.text = "-" if python is None else python
    return problems


def translate(docs: list[Document]) -> list[Problem]:
    """Rewrite every FEEL and JUEL text of the bundle as Python, in place; the problems found."""
    problems: list[Problem] = []
    for doc in docs:
        problems += translate_bpmn(doc) if doc.kind == "bpmn" else translate_dmn(doc)
    return problems
