"""Move a running case's workflow onto another version of its process (SpiffWorkflow's own diff).

SpiffWorkflow 3.2 aligns two specs (``SpiffWorkflow.bpmn.util.diff``: by element id first, then by
position for what was renamed) and re-points a workflow's tasks (``migrate_workflow``: every task
takes its aligned spec, each waiting or ready task is reset and its branch predicted anew under the
new spec). This module decides whether that may happen and repairs what the reset loses:

* **What blocks.** Every task the case is *at* (ready, waiting, started or in error: a user task, a
  receive task, a timer or message wait, an event-based gateway, a join waiting for its inputs) must
  have a counterpart in the new version: the element with the same id and of the same kind, or the
  one a ``--map old=new`` names (of any kind: the administrator said so, e.g. a wait sent back to a
  step). Spiff's alignment by position is offered as a hint, never taken on its own for such a task:
  a case must not move to another step because two steps stand in one place.
* **What the reset loses, put back.** ``reset_branch`` gives a task its parent's data and clears its
  internal data; a case's data must not change by migrating, and a timer keeps its due instant when
  its definition did not change (a changed definition counts again from the migration).
* **Compacted states** (``engine.spiff.prune``) keep a few finished tasks (the parents of the
  frontier, the last task). One whose element the new version no longer has is cut out of the tree,
  its children re-parented, like the compaction itself does: nothing runs on a finished task.

Task ids do not change: the task rows, step clocks and timers keyed by them follow the case.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.spiff.runtime import LoadedSpec, spec_registry

AT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class Blocked:
    """A task the case is at with no counterpart in the new version, and why."""

    element_id: str
    reason: str


@dataclass(frozen=True)
class Move:
    """A task the case is at, and the element it stands at in the new version."""

    task_id: str
    from_element: str
    to_element: str


@dataclass
class Outcome:
    """What migrating one case's workflow found; ``blocked`` empty means the workflow was moved."""

    blocked: list[Blocked] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # old element id -> new, for finished tasks


def element_of(spec) -> str:
    return getattr(spec, "bpmn_id", None) or spec.name


def check_map(old: list[LoadedSpec], new: LoadedSpec, mapping: dict[str, str]) -> list[str]:
    """What is wrong with a ``--map``: an old id none of the old versions has, a new id the new one lacks."""
    old_names = set().union(*(_all_names(o) for o in old))
    new_names = _all_names(new)
    wrong = []
    for source, target in mapping.items():
        if source not in old_names:
            wrong.append(f"{source}={target}: no version the cases run on has an element {source!r}")
        if target not in new_names:
            wrong.append(f"{source}={target}: the new version has no element {target!r}")
    return wrong


def _all_names(loaded: LoadedSpec) -> set[str]:
    names = set(loaded.spec.task_specs)
    for sub in loaded.subprocess_specs.values():
        names |= set(sub.task_specs)
    return names


def migrate(wf, new: LoadedSpec, mapping: dict[str, str]) -> Outcome:
    """Move ``wf`` onto ``new`` in place, unless a task it is at has no counterpart: then ``wf`` is left
    as it was and the outcome lists what blocks."""
    registry = spec_registry()
    top = wf.top_workflow
    pairs = [(top, new.spec)]
    for sub in top.subprocesses.values():
        pairs.append((sub, new.subprocess_specs.get(sub.spec.name)))
    outcome = Outcome()
    diffs = []
    for workflow, target in pairs:
        if target is None:
            outcome.blocked += [Blocked(element_of(t.task_spec), f"its process {workflow.spec.name!r} is gone "
                                        "from the new version") for t in _at(workflow)]
            continue
        spec_diff = SpecDiff(registry, workflow.spec, target)
        _apply_map(spec_diff, workflow.spec, target, mapping)
        outcome.blocked += _blocking(workflow, spec_diff, mapping, registry)
        diffs.append((workflow, target, spec_diff))
    if outcome.blocked:
        return outcome
    kept = {t.id: (copy.deepcopy(t.data), copy.deepcopy(t.internal_data), t.task_spec)
            for workflow, _t, _d in diffs for t in _at(workflow)}
    top.subprocess_specs = new.subprocess_specs
    for workflow, target, spec_diff in diffs:
        outcome.renamed.update(_renames(spec_diff, target, mapping))
        migrate_workflow(WorkflowDiff(workflow, spec_diff), workflow, target)
        _restore(workflow, kept, registry, outcome)
        _cut_foreign(workflow, target)
    return outcome


def _at(workflow) -> list:
    return [t for t in workflow.tasks.values() if t.has_state(AT)]


def _apply_map(spec_diff: SpecDiff, old, new, mapping: dict[str, str]) -> None:
    """Align what the map names, and the specs Spiff makes for an element (``X.BoundaryEventSplit``)."""
    for source, target in mapping.items():
        for name, spec in old.task_specs.items():
            if name == source or name.startswith(f"{source}."):
                counterpart = new.task_specs.get(target + name[len(source):])
                if counterpart is not None:
                    spec_diff.alignment[spec] = counterpart
                    if counterpart in spec_diff.added:
                        spec_diff.added.remove(counterpart)


def _blocking(workflow, spec_diff: SpecDiff, mapping: dict[str, str], registry) -> list[Blocked]:
    found = []
    for task in _at(workflow):
        spec = task.task_spec
        element = element_of(spec)
        counterpart = spec_diff.alignment.get(spec)
        confirmed = counterpart is not None and (counterpart.name == spec.name or _mapped(spec.name, mapping))
        if counterpart is None:
            found.append(Blocked(element, "has no counterpart in the new version; name one with --map "
                                          f"{element}=NEW_ID"))
        elif not confirmed:
            found.append(Blocked(element, f"is gone from the new version, which has {element_of(counterpart)!r} "
                                          f"in its place; confirm with --map {element}={element_of(counterpart)}"))
        elif type(counterpart) is not type(spec) and not _mapped(spec.name, mapping):
            old_kind, new_kind = registry.typenames.get(type(spec)), registry.typenames.get(type(counterpart))
            found.append(Blocked(element, f"is a {old_kind} but {element_of(counterpart)!r} in the new version "
                                          f"is a {new_kind}; to move it there all the same, name it: --map "
                                          f"{element}={element_of(counterpart)}"))
    return found


def _mapped(name: str, mapping: dict[str, str]) -> bool:
    return any(name == source or name.startswith(f"{source}.") for source in mapping)


def _renames(spec_diff: SpecDiff, target, mapping: dict[str, str]) -> dict[str, str]:
    """Element ids that change: those the map names, and those gone that Spiff aligned elsewhere."""
    renamed = dict(mapping)
    for old, new in spec_diff.alignment.items():
        if new is None or old is None or not getattr(old, "bpmn_id", None):
            continue
        if old.bpmn_id != element_of(new) and old.name not in target.task_specs:
            renamed.setdefault(old.bpmn_id, element_of(new))
    return renamed


def _restore(workflow, kept: dict, registry, outcome: Outcome) -> None:
    """Put back the data (and, for an unchanged event, the internal data) the reset cleared."""
    for task in list(workflow.tasks.values()):
        before = kept.get(task.id)
        if before is None:
            continue
        data, internal, old_spec = before
        task.data = data
        if _same_event(old_spec, task.task_spec, registry):
            task.internal_data = internal
        outcome.moves.append(Move(str(task.id), element_of(old_spec), element_of(task.task_spec)))


def _same_event(old_spec, new_spec, registry) -> bool:
    old_event = getattr(old_spec, "event_definition", None)
    new_event = getattr(new_spec, "event_definition", None)
    if old_event is None or new_event is None:
        return old_event is None and new_event is None
    return registry.convert(old_event) == registry.convert(new_event)


def _cut_foreign(workflow, target) -> None:
    """Cut out tasks whose element the new version lacks: finished ones the compaction kept, and
    predictions the reset did not reach (none of them is a task the case is at: those block)."""
    tasks = workflow.tasks
    for task in [t for t in tasks.values() if target.task_specs.get(t.task_spec.name) is not t.task_spec]:
        parent = tasks.get(task._parent) if task._parent is not None else None
        if parent is None:  # the root is the start of every version
            continue
        at = parent._children.index(task.id)
        parent._children[at:at + 1] = list(task._children)
        for child_id in task._children:
            tasks[child_id]._parent = parent.id
        if workflow.last_task is task:
            workflow.last_task = parent
        del tasks[task.id]


def describe(outcome: Outcome) -> dict[str, Any]:
    return {"blocked": [{"element_id": b.element_id, "reason": b.reason} for b in outcome.blocked],
            "moves": [{"task_id": m.task_id, "from": m.from_element, "to": m.to_element} for m in outcome.moves],
            "renamed": dict(outcome.renamed)}
