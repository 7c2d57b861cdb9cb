"""What the diagram viewers show: a version's files with their lint results, a case's position.

Read models for the designer's pages and the case pages. ``engine/diagram_api.py`` serves them as
JSON, the pages' static script draws them with bpmn-js / dmn-js, and the pages list the same facts
(the steps, the problems per element, where the case stands) for a browser that runs no script.

A case's markers (like Camunda Cockpit): ``current`` the elements it is at (open tasks, waits,
timers), ``done`` the elements it went through with how many times (its history), ``overdue`` the
open steps past their step deadline and ``late`` the finished ones that were (the step rows' SLA
level, written there by the clocks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, Problem
from engine.lint import lint
from engine.models import Case, CaseEvent, ProcessDefinition, Task, Timer
from engine.spiff.documents import NS, Document, load_documents

FLOW_NODES = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "exclusiveGateway", "inclusiveGateway",
              "parallelGateway", "eventBasedGateway", "complexGateway")
DONE_KINDS = ("task_completed", "element_completed", "timer_fired")
OPEN = ("open", "claimed")


@dataclass(frozen=True)
class Element:
    id: str
    name: str
    kind: str  # the BPMN/DMN element's local name: userTask, receiveTask, decision ...


@dataclass
class Diagram:
    """One BPMN or DMN file of a version, and what to mark on it."""

    name: str
    kind: str  # bpmn | dmn
    xml: str
    elements: list[Element]
    processes: list[str] = field(default_factory=list)  # the ids of the BPMN processes it holds
    markers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "xml": self.xml, "markers": self.markers}


@dataclass(frozen=True)
class ElementProblems:
    element: Element
    problems: list[Problem]


def _elements(doc: Document) -> list[Element]:
    if doc.kind == "dmn":
        nodes = doc.root.xpath(".//*[local-name()='decision' or local-name()='inputData']")
    else:
        nodes = doc.root.xpath("|".join(f".//bpmn:{kind}" for kind in FLOW_NODES), namespaces=NS)
    return [Element(n.get("id"), n.get("name") or "", etree.QName(n).localname) for n in nodes if n.get("id")]


def diagrams(files: dict[str, Any]) -> list[Diagram]:
    """Each BPMN and DMN file of a bundle that parses, in the bundle's order (the main BPMN first)."""
    raw = {name: text.encode() if isinstance(text, str) else text for name, text in files.items()}
    docs, _problems = load_documents(raw)
    return [Diagram(d.name, d.kind, raw[d.name].decode("utf-8", "replace"), _elements(d),
                    [p.get("id") for p in d.root.xpath(".//bpmn:process", namespaces=NS)]) for d in docs]


def by_element(problems: list[Problem], found: list[Diagram]) -> tuple[list[ElementProblems], list[Problem]]:
    """Problems grouped per element (in the order the elements appear), and those about no element."""
    known = {e.id: e for d in found for e in d.elements}
    grouped: dict[str, list[Problem]] = {}
    general = []
    for problem in problems:
        if problem.element_id:
            grouped.setdefault(problem.element_id, []).append(problem)
        else:
            general.append(problem)
    order = {e.id: i for i, e in enumerate(e for d in found for e in d.elements)}
    rows = [ElementProblems(known.get(eid) or Element(eid, "", ""), items)
            for eid, items in sorted(grouped.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]
    return rows, general


def mark_problems(found: list[Diagram], problems: list[Problem]) -> None:
    """Put each problem on its file's diagram (a problem naming no file is the main file's)."""
    main = found[0].name if found else None
    for diagram in found:
        mine = [p for p in problems if p.element_id and (p.file or main) == diagram.name]
        marks: dict[str, list[dict[str, Any]]] = {}
        for p in mine:
            marks.setdefault(p.element_id, []).append({"message": p.message, "warning": p.is_warning,
                                                       "line": p.line})
        diagram.markers = {"problems": marks}


# --- deployed versions ----------------------------------------------------------------------------


def processes(session: Session) -> list[dict[str, Any]]:
    """Every deployed process with its versions, newest first, and how many cases run on each."""
    running = dict(session.execute(select(Case.definition_id, func.count()).where(Case.status == "running")
                                   .group_by(Case.definition_id)).all())
    out: dict[str, dict[str, Any]] = {}
    for d in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                ProcessDefinition.version.desc())):
        entry = out.setdefault(d.process_id, {"process_id": d.process_id, "name": d.name, "versions": []})
        entry["versions"].append({"version": d.version, "name": d.name, "deployed_at": d.deployed_at,
                                  "deployed_by": d.deployed_by, "running": running.get(d.id, 0),
                                  "content_hash": d.content_hash})
    return list(out.values())


def definition(session: Session, process_id: str, version: int) -> ProcessDefinition:
    found = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id,
                                                           ProcessDefinition.version == version))
    if found is None:
        raise NotFound(f"process '{process_id}' has no version {version}")
    return found


def version_view(session: Session, process_id: str, version: int) -> dict[str, Any]:
    """A deployed version: its files as diagrams with its lint results (warnings: it deployed)."""
    d = definition(session, process_id, version)
    files = {name: text.encode() for name, text in d.files.items()}
    problems = lint(files, process_id)
    found = diagrams(files)
    mark_problems(found, problems)
    rows, general = by_element(problems, found)
    running = session.scalar(select(func.count()).select_from(Case).where(Case.definition_id == d.id,
                                                                          Case.status == "running"))
    return {"definition": d, "diagrams": found, "by_element": rows, "general": general, "running": running,
            "forms": sorted(n for n in d.files if n.endswith(".json"))}


# --- a case's position ----------------------------------------------------------------------------


def case_diagram(session: Session, case: Case) -> Diagram | None:
    """The case's process (its own version) with where it is, where it went and what is overdue."""
    d = session.get(ProcessDefinition, case.definition_id)
    main = [x for x in diagrams(d.files) if case.process_id in x.processes]
    if not main:
        return None
    diagram = main[0]
    tasks = session.execute(select(Task.element_id, Task.state, Task.sla_level).where(Task.case_id == case.id)).all()
    current = {eid for eid, state, _level in tasks if state in OPEN}
    current |= set((case.summary or {}).get("waiting", {}).values()) if case.status == "running" else set()
    current |= set(session.scalars(select(Timer.element_id).where(Timer.case_id == case.id)))
    done = Counter(session.scalars(select(CaseEvent.element_id).where(
        CaseEvent.case_id == case.id, CaseEvent.kind.in_(DONE_KINDS), CaseEvent.element_id.is_not(None))))
    ended = session.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == "case_ended"))
    if ended and ended.get("end"):
        done[ended["end"]] += 1
    ids = {e.id for e in diagram.elements}
    diagram.markers = {
        "current": sorted(current & ids), "done": {k: v for k, v in sorted(done.items()) if k in ids},
        "overdue": sorted({eid for eid, state, level in tasks if state in OPEN and level == "red"} & ids),
        "late": sorted({eid for eid, state, level in tasks if state == "completed" and level == "red"} & ids),
    }
    return diagram


def step_list(diagram: Diagram) -> list[dict[str, Any]]:
    """The diagram's activities and events with what the markers say of each (the page without script)."""
    m = diagram.markers
    rows = []
    for e in diagram.elements:
        if e.kind.endswith("Gateway"):
            continue
        state = ("overdue" if e.id in m.get("overdue", []) else "current" if e.id in m.get("current", [])
                 else "late" if e.id in m.get("late", []) else "done" if e.id in m.get("done", {}) else "")
        rows.append({"id": e.id, "name": e.name or e.id, "kind": e.kind, "state": state,
                     "times": m.get("done", {}).get(e.id, 0)})
    return rows
