"""What lint says about a bundle's forms: every user task has one, it parses, and it writes only
what its step may (no protected case field; the opinion, decision and send-back fields it names exist).
"""

from __future__ import annotations

from engine.errors import Invalid, Problem
from engine.forms import RESULT, parse_schema, property_list, schema_text
from engine.spiff.documents import NS, Document, element_properties, load_documents

NAMED_FIELDS = ("opinionField", "decisionField", "caseDecision")
FIX = ("add the property formSchema: a path such as forms/{id}.json (a JSON Schema whose \"properties\" "
       "list every field the step writes) or the schema inline; a completion may write only those fields")


def _problem(message: str, node, doc: Document) -> Problem:
    return Problem(message, element_id=node.get("id"), line=node.sourceline, file=doc.name)


def forms_named(files: dict[str, bytes]) -> list[str]:
    """The form files (not inline schemas) the bundle's user tasks name, in order."""
    docs, _problems = load_documents(files)
    out: list[str] = []
    for doc in docs:
        if doc.kind != "bpmn":
            continue
        for task in doc.root.xpath(".//bpmn:userTask", namespaces=NS):
            raw = (element_properties(task).get("formSchema") or "").strip()
            if raw and not raw.startswith("{") and raw not in out:
                out.append(raw)
    return out


def form_problems(doc: Document, files: dict[str, bytes]) -> list[Problem]:
    """Every user task's form: present, parsed, and consistent with the process's protected fields."""
    problems = []
    for process in doc.root.xpath(".//bpmn:process", namespaces=NS):
        protected = property_list(element_properties(process).get("protectedFields"))
        tasks = process.xpath(".//bpmn:userTask", namespaces=NS)
        deciders = [t.get("id") for t in tasks if (element_properties(t).get("caseDecision") or "").strip()]
        for task in tasks:
            problems += _task_problems(task, doc, files, protected, deciders)
    return problems


def _task_problems(task, doc: Document, files: dict[str, bytes], protected: frozenset[str],
                   deciders: list[str]) -> list[Problem]:
    props = element_properties(task)
    raw = (props.get("formSchema") or "").strip()
    element_id = task.get("id") or "?"
    if not raw:
        return [_problem("user task has no form: " + FIX.format(id=element_id), task, doc)]
    try:
        schema = parse_schema(schema_text(raw, element_id, files), element_id)
    except Invalid as exc:
        return [_problem(p.message, task, doc) for p in exc.problems]
    declared = set(schema["properties"])
    problems = []
    for name in sorted(declared & protected):
        problems.append(_problem(f"the form declares {name!r}, a protected case field (protectedFields): only "
                                 f"the step that owns it writes it; remove it from the form", task, doc))
    if RESULT in declared and deciders and RESULT not in protected:
        problems.append(_problem(f"the form declares {RESULT!r}, the case's decision, which step(s) "
                                 f"{', '.join(deciders)} set (caseDecision); remove it from the form", task, doc))
    for prop in NAMED_FIELDS:
        name = (props.get(prop) or "").strip()
        if name and name not in declared:
            problems.append(_problem(f"{prop} names {name!r}, which the form does not declare", task, doc))
    send_back = (props.get("sendBack") or "").strip()
    if send_back:
        name, sep, value = send_back.partition("=")
        if not (sep and name.strip() and value.strip()):
            problems.append(_problem(f"sendBack must be field=value, not {send_back!r}", task, doc))
        elif name.strip() not in declared:
            problems.append(_problem(f"sendBack names {name.strip()!r}, which the form does not declare", task, doc))
    return problems
