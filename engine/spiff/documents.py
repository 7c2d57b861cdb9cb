"""The files of a bundle as XML trees, and what any dialect's extension elements say about an element.

Parsed with a hardened lxml parser (no entities, no DTD, no network); Spiff is handed the trees and
never reads bytes. ``.bpmn``, ``.bpmn2``, ``.bpmn20.xml`` (Flowable, Activiti), ``.dmn`` and
``.xml`` files are read; other files of a bundle (forms, notes) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from lxml import etree

from engine.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = frozenset({
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
})
NS = {
    "bpmn": BPMN_NS,
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
    "activiti": "http://activiti.org/bpmn",
    "flowable": "http://flowable.org/bpmn",
}
PEOPLE = ("assignee", "candidateUsers", "candidateGroups")
# the engines whose user tasks carry `assignee`, `candidateUsers`, `candidateGroups` as attributes
ATTRIBUTE_DIALECTS = ("camunda", "activiti", "flowable")


@dataclass
class Document:
    """One parsed file of a bundle: ``kind`` is ``bpmn`` or ``dmn``."""

    name: str
    kind: str
    root: etree._Element


# --- reading files --------------------------------------------------------------------------------


def _hardened_parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network, no huge trees; a DOCTYPE is refused after parsing.
    # One per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def load_documents(files: dict[str, bytes]) -> tuple[list[Document], list[Problem]]:
    """Parse every BPMN/DMN file of a bundle; other files (forms, notes) are skipped."""
    docs, problems = [], []
    for name, content in files.items():
        suffix = file_kind(name)
        if suffix is None:
            continue
        if isinstance(content, str):
            content = content.encode()
        try:
            root = etree.fromstring(content, _hardened_parser())
        except etree.XMLSyntaxError as exc:
            problems.append(Problem(f"not well-formed XML: {exc.msg}", line=exc.lineno, file=name))
            continue
        if root.getroottree().docinfo.doctype:
            problems.append(Problem("a DOCTYPE is not allowed in process files", line=1, file=name))
            continue
        namespace = etree.QName(root).namespace
        if namespace == BPMN_NS and suffix != ".dmn":
            docs.append(Document(name, "bpmn", root))
        elif namespace in DMN_NAMESPACES and suffix != ".bpmn":
            docs.append(Document(name, "dmn", root))
        else:
            problems.append(Problem(f"not a {suffix[1:].upper()} definitions document (root element "
                                    f"{root.tag})", line=root.sourceline, file=name))
    return docs, problems


def file_kind(name: str) -> str | None:
    """``.bpmn`` for every BPMN spelling (``.bpmn2``, Flowable's ``.bpmn20.xml``), ``.dmn``, ``.xml``,
    or None for a file the parser skips."""
    lower = PurePosixPath(name).name.lower()
    if lower.endswith((".bpmn", ".bpmn2", ".bpmn20.xml")):
        return ".bpmn"
    suffix = PurePosixPath(lower).suffix
    return suffix if suffix in (".dmn", ".xml") else None


def is_bpmn_name(name: str) -> bool:
    return file_kind(name) == ".bpmn"


# --- extension properties -------------------------------------------------------------------------


def property_sources(node: etree._Element) -> list[tuple[str, dict[str, str]]]:
    """The element's properties per dialect, in precedence order (a later dialect wins)."""
    sources = []
    for prefix in ("spiffworkflow", "camunda", "zeebe"):
        found = {}
        path = f"./bpmn:extensionElements/{prefix}:properties/{prefix}:property"
        for prop in node.xpath(path, namespaces=NS):
            if prop.get("name"):
                found[prop.get("name")] = prop.get("value", "")
        sources.append((prefix, found))
    return sources


def people_sources(node: etree._Element) -> list[tuple[str, str, str, etree._Element]]:
    """Who may work a user task, as each dialect writes it: (dialect, field, text, where written).

    Camunda 7, Activiti and Flowable write attributes on the task; Camunda 8 writes
    ``<zeebe:assignmentDefinition>``. Properties named like the fields count too (the Spiff editor's way).
    """
    found = []
    for prefix in ATTRIBUTE_DIALECTS:
        for name in PEOPLE:
            text = node.get(f"{{{NS[prefix]}}}{name}")
            if text is not None:
                found.append((prefix, name, text, node))
    for definition in node.xpath("./bpmn:extensionElements/zeebe:assignmentDefinition", namespaces=NS):
        for name in PEOPLE:
            if definition.get(name) is not None:
                found.append(("zeebe", name, definition.get(name), definition))
    return found


def form_key(node: etree._Element) -> tuple[str, str] | None:
    """(where, value) of the form a modeler attached: ``camunda:formKey`` (also Activiti and
    Flowable), Zeebe's ``formDefinition`` ``formKey`` / ``formId``, or the Spiff editor's
    ``formJsonSchemaFilename`` property."""
    for prefix in ATTRIBUTE_DIALECTS:
        value = node.get(f"{{{NS[prefix]}}}formKey")
        if value:
            return f"{prefix}:formKey", value
    for definition in node.xpath("./bpmn:extensionElements/zeebe:formDefinition", namespaces=NS):
        if definition.get("formId"):
            return "zeebe:formId", f"forms/{definition.get('formId')}.json"
        if definition.get("formKey"):
            return "zeebe:formKey", definition.get("formKey")
    for prefix, found in property_sources(node):
        if found.get("formJsonSchemaFilename"):
            return f"{prefix}:formJsonSchemaFilename", found["formJsonSchemaFilename"]
    return None


def json_form_path(value: str) -> str | None:
    """The JSON Schema file a form key names (``forms/leave.json``, ``embedded:deployment:forms/x.json``,
    ``camunda-forms:deployment:x.json``), or None when it names something else (an HTML page, a .form)."""
    path = value.strip().rsplit(":", 1)[-1].lstrip("/")
    return path if path.lower().endswith(".json") else None


def element_properties(node: etree._Element) -> dict[str, str]:
    """Merged extension properties of one element, plus the people fields of every dialect and the
    form a form key names (a property of the same name wins)."""
    merged: dict[str, str] = {}
    for _, field, text, _where in people_sources(node):
        merged.setdefault(field, text)
    for prefix in ATTRIBUTE_DIALECTS:  # on a process: who may start it, and where the starter goes
        for field in ("candidateStarterGroups", "candidateStarterUsers"):
            if node.get(f"{{{NS[prefix]}}}{field}"):
                merged.setdefault(field, node.get(f"{{{NS[prefix]}}}{field}"))
        if etree.QName(node).localname == "process":
            for start in node.xpath("./bpmn:startEvent", namespaces=NS):
                if start.get(f"{{{NS[prefix]}}}initiator"):
                    merged.setdefault("initiator", start.get(f"{{{NS[prefix]}}}initiator"))
    form = form_key(node)
    if form is not None and json_form_path(form[1]):
        merged["formSchema"] = json_form_path(form[1])
    for _, found in property_sources(node):
        merged.update(found)
    return merged


def owner_id(node: etree._Element) -> str | None:
    """The id of the nearest ancestor flow element (skipping event definitions)."""
    while node is not None:
        if node.get("id") and not etree.QName(node).localname.endswith("EventDefinition"):
            return node.get("id")
        node = node.getparent()
    return None
