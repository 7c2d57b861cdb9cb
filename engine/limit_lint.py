"""The time limits a designer declares, checked before they reach a clock.

Two mistakes make electronic supervision noise instead of a signal: a step whose yellow threshold
is not below its own limit is yellow the moment it opens (every task warns, so none does), and a
process whose step limits add up to more than its promise can be on time at every step and still
late as a case. The first is an error, the second a warning: ``lint`` reports both, and
:func:`step_limit_total` lets the catalog hold each item's promise against its process.

What the steps add up to is the longest path of ``dueWorkingDays`` while the case clock runs: from
the elements after a ``clock=start`` element (else from the start events) to a ``clock=stop``
element (else to the ends). Parallel branches count as the longest of them, alternatives as the
worst, a loop (a send-back) once; a sub-process counts as its own longest path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from engine.errors import Problem
from engine.spiff.documents import NS, Document, element_properties, load_documents

DUE = "dueWorkingDays"
WARNING = "warningWorkingDays"
PROMISED = "promisedWorkingDays"
HUMAN_TASKS = ("userTask", "manualTask", "task")


@dataclass(frozen=True)
class StepPath:
    """The steps whose limits add up to the most while the case clock runs, and that sum."""

    total: int
    steps: tuple[tuple[str, int], ...]  # (element id, working days), in order

    def spelled(self) -> str:
        return " + ".join(f"{step} {days}" for step, days in self.steps)


def _whole(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _problem(message: str, node: etree._Element, doc: Document, *, warning: bool = False) -> Problem:
    return Problem(message, element_id=node.get("id"), line=node.sourceline, file=doc.name,
                   severity="warning" if warning else None)


def limit_problems(doc: Document, office_warning_days: int) -> list[Problem]:
    """Thresholds not below their step's limit (errors) and step limits past the promise (warnings).

    ``office_warning_days``: the yellow threshold of a step that declares none (the office's).
    """
    problems: list[Problem] = []
    for process in doc.root.xpath(".//bpmn:process", namespaces=NS):
        for task in process.xpath("|".join(f".//bpmn:{kind}" for kind in HUMAN_TASKS), namespaces=NS):
            problems += _threshold_problems(task, doc, office_warning_days)
        promised = _whole(element_properties(process).get(PROMISED))
        path = longest_steps(process)
        if promised and path is not None and path.total > promised:
            problems.append(_problem(
                f"the step limits while the case clock runs add up to {path.total} working days "
                f"({path.spelled()}), more than the promised {promised} ({PROMISED}): every step can be on "
                f"time and the case still late; fix: shorten the steps' {DUE} or raise {PROMISED}",
                process, doc, warning=True))
    return problems


def _threshold_problems(task: etree._Element, doc: Document, office_warning_days: int) -> list[Problem]:
    properties = element_properties(task)
    due = _whole(properties.get(DUE))
    raw_warning = properties.get(WARNING)
    if raw_warning is not None and _whole(raw_warning) is None:
        return [_problem(f"{WARNING} must be a whole number of working days (0 or more), not {raw_warning!r}",
                         task, doc)]
    if raw_warning is not None and due is None:
        return [_problem(f"{WARNING} is ignored: the step has no {DUE} to warn about", task, doc, warning=True)]
    if not due:  # no limit, or a limit property_problems already refuses
        return []
    warning = _whole(raw_warning)
    whose = "its" if warning is not None else "the office's default"
    if warning is None:
        warning = office_warning_days
    if warning >= due:
        return [_problem(
            f"the yellow threshold ({whose} {WARNING} {warning}) is not below the step's limit ({DUE} {due}): "
            f"every task of this step is yellow the day it opens; fix: set {WARNING} below {due} "
            f"(0: yellow on the due day) or raise {DUE}", task, doc)]
    return []


# --- what the steps add up to ---------------------------------------------------------------------


def _flow_graph(container: etree._Element) -> tuple[dict[str, etree._Element], dict[str, list[str]]]:
    """The flow nodes directly inside ``container`` and their successors (a boundary event follows
    the activity it is attached to)."""
    nodes = {n.get("id"): n for n in container if n.get("id") and isinstance(n.tag, str)
             and _local(n) not in ("sequenceFlow", "laneSet", "extensionElements", "documentation",
                                   "dataObject", "dataObjectReference", "textAnnotation", "association")}
    successors: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for flow in container.xpath("./bpmn:sequenceFlow", namespaces=NS):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in successors and target in nodes:
            successors[source].append(target)
    for node_id, node in nodes.items():
        host = node.get("attachedToRef")
        if _local(node) == "boundaryEvent" and host in successors:
            successors[host].append(node_id)
    return nodes, successors


def _weight(node: etree._Element) -> StepPath:
    if _local(node) in HUMAN_TASKS:
        days = _whole(element_properties(node).get(DUE))
        return StepPath(days, ((node.get("id"), days),)) if days else StepPath(0, ())
    if _local(node) in ("subProcess", "transaction", "adHocSubProcess"):
        return _longest(node, clocked=False) or StepPath(0, ())
    return StepPath(0, ())


def _clock(node: etree._Element) -> str | None:
    return (element_properties(node).get("clock") or "").strip() or None


def _longest(container: etree._Element, *, clocked: bool) -> StepPath | None:
    """The longest path of step limits in ``container``; with ``clocked``, only while the case clock
    runs. None when no step on any path has a limit."""
    nodes, successors = _flow_graph(container)
    starters = [i for i, n in nodes.items() if clocked and _clock(n) == "start"]
    stoppers = {i for i, n in nodes.items() if clocked and _clock(n) == "stop"}
    if starters:
        sources = [s for i in starters for s in successors[i]]
    else:
        sources = [i for i, n in nodes.items() if _local(n) == "startEvent"]
    best: dict[str, StepPath] = {}
    on_path: set[str] = set()

    def walk(node_id: str) -> StepPath:
        # the most a path from here adds up to; a node already on the path is a loop, counted once
        if node_id in best:
            return best[node_id]
        if node_id in on_path:
            return StepPath(0, ())
        on_path.add(node_id)
        here = _weight(nodes[node_id]) if node_id not in stoppers else StepPath(0, ())
        tails = [] if node_id in stoppers else [walk(s) for s in successors[node_id]]
        tail = max(tails, key=lambda p: p.total, default=StepPath(0, ()))
        on_path.discard(node_id)
        best[node_id] = StepPath(here.total + tail.total, here.steps + tail.steps)
        return best[node_id]

    found = max((walk(s) for s in sources), key=lambda p: p.total, default=None)
    return found if found is not None and found.total > 0 else None


def longest_steps(process: etree._Element) -> StepPath | None:
    """The steps of ``process`` whose limits add up to the most while its case clock runs."""
    return _longest(process, clocked=True)


@lru_cache(maxsize=32)  # the catalog asks once per item; the files rarely change
def _total_of(files: tuple[tuple[str, bytes], ...], process_id: str) -> StepPath | None:
    docs, _problems = load_documents(dict(files))
    for doc in docs:
        for process in doc.root.xpath(".//bpmn:process[@id=$pid]", pid=process_id, namespaces=NS):
            return longest_steps(process)
    return None


def step_limit_total(files: dict[str, str | bytes], process_id: str) -> StepPath | None:
    """What the steps of a deployed process add up to (its stored files), or None without limits."""
    frozen = tuple(sorted((name, text.encode() if isinstance(text, str) else text) for name, text in files.items()))
    return _total_of(frozen, process_id)
