"""Keep a case's SpiffWorkflow state bounded by what is open, not by what has happened.

Why: SpiffWorkflow keeps every pass of a loop in its task tree. A case sent round the correction
loop a thousand times carries a thousand completed passes: the stored state grows by about 1.2 KB a
pass, every step walks the whole tree (quadratic total cost), joins recurse through the parent chain
(``RecursionError`` past ~325 passes) and the task iterator stops at depth 1000 (a waiting case is then
reported complete). The history of a case lives in the engine's event log (``case_events``); the
workflow state only needs what the *future* of the case depends on.

What :func:`compact` keeps, per workflow (the top one and every live subworkflow), and why:

* every unfinished task (predicted, future, waiting, ready, started) and every task in error: the
  frontier itself, with its own data;
* the parent of each of those: a task not yet updated inherits its data from its parent, and a
  parallel or inclusive join reads ``task.parent.state`` / ``task.parent.task_spec`` to know which
  inputs have arrived;
* for a structured join still waiting (``BoundaryEventJoin``, ``StartEventJoin``: ``find_ancestor``)
  the chain up to its split, and every child of a kept event split (the join reads
  ``split_task.children`` to find the main task and the boundary events);
* the children of a live multi-instance task (their data is merged when the last one finishes);
* for a parallel / inclusive join with a live instance, the finished instances of the same gateway
  that arrived after its last firing and are not ancestors of a live instance (tokens already on an
  input: Spiff cancels an earlier waiting instance when the next one arrives), one per input, with
  their parents. Instances from before the last firing were consumed by it and are dropped;
* the root and each workflow's ``last_task`` (its data is the case data once the case ends);
* subworkflows (call activities, subprocesses) whose task is kept and unfinished; completed ones go.

Kept tasks are re-parented to their nearest kept ancestor, so ancestry among kept tasks is exactly
what it was (``is_descendant_of``, ``find_ancestor``) and the tree depth stays bounded by the
process, not by the number of passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

LIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
WAITING_ANYWHERE = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class Shape:
    """How big a workflow state is: tasks (all workflows), the deepest chain, subworkflows."""

    tasks: int
    depth: int
    subworkflows: int


def workflows(wf) -> list:
    """The top workflow and every subworkflow it holds."""
    top = wf.top_workflow
    return [top, *top.subprocesses.values()]


def _ancestors(task) -> Iterator:
    """Parents of ``task`` up to the root, iteratively (the recursive Spiff walk overflows on long chains)."""
    tasks = task.workflow.tasks
    parent_id = task._parent
    while parent_id is not None:
        parent = tasks.get(parent_id)
        if parent is None:
            return
        yield parent
        parent_id = parent._parent


def _keep_set(workflow) -> set[UUID]:
    tasks = workflow.tasks
    keep: set[UUID] = {workflow.task_tree.id}
    if workflow.last_task is not None and workflow.last_task.id in tasks:
        keep.add(workflow.last_task.id)
    live = _without_repeat_tokens([t for t in tasks.values() if t.has_state(LIVE)], tasks)
    for task in live:
        keep.add(task.id)
        if task._parent is not None:
            keep.add(task._parent)
        spec = task.task_spec
        if isinstance(spec, Join) and getattr(spec, "split_task", None) and not isinstance(spec, UnstructuredJoin):
            for ancestor in _ancestors(task):
                keep.add(ancestor.id)
                if ancestor.task_spec.name == spec.split_task:
                    break
        if isinstance(spec, MultiInstanceTask):
            keep.update(task._children)
    keep |= _pending_join_inputs(live, tasks.values())
    # The join of an event split reads every child of the split.
    for task_id in list(keep):
        task = tasks.get(task_id)
        if task is not None and isinstance(task.task_spec, BoundaryEventSplit | StartEventSplit):
            keep.update(task._children)
    return keep


def _without_repeat_tokens(live: list, tasks: dict) -> list:
    """Drop the join tokens a repeating boundary timer leaves behind, keeping the newest.

    Each occurrence of a non-interrupting cycle timer adds a WAITING ``BoundaryEventJoin`` under the
    (still armed) boundary event. They are all the same token: whichever fires first cancels the
    rest. Keeping every one would grow the state by one task (and its predictions) per occurrence.
    """
    groups: dict[tuple, list] = {}
    for task in live:
        parent = tasks.get(task._parent) if task._parent is not None else None
        if (isinstance(task.task_spec, BoundaryEventJoin) and parent is not None
                and parent.state == TaskState.WAITING
                and isinstance(getattr(parent.task_spec, "event_definition", None), CycleTimerEventDefinition)):
            groups.setdefault((task.task_spec.name, parent.id), []).append(task)
    redundant = {t.id for group in groups.values()
                 for t in sorted(group, key=lambda t: t.last_state_change)[:-1]}
    if not redundant:
        return live
    return [t for t in live
            if t.id not in redundant and not any(a.id in redundant for a in _ancestors(t))]


def _pending_join_inputs(live: list, all_tasks: Iterable) -> set[UUID]:
    pending = {t.task_spec for t in live if isinstance(t.task_spec, UnstructuredJoin)}
    if not pending:
        return set()
    keep: set[UUID] = set()
    by_spec: dict = {}
    for task in all_tasks:
        if task.task_spec in pending:
            by_spec.setdefault(task.task_spec, []).append(task)
    for instances in by_spec.values():
        live_ancestors: set[UUID] = set()
        for task in instances:
            if task.has_state(LIVE):
                live_ancestors.update(a.id for a in _ancestors(task))
        fired = [t.last_state_change for t in instances if t.state == TaskState.COMPLETED]
        last_fired = max(fired) if fired else float("-inf")
        latest_per_input: dict = {}
        for task in instances:
            if task.has_state(LIVE) or task.id in live_ancestors or task.last_state_change <= last_fired:
                continue
            parent = task.parent
            if parent is None:
                continue
            held = latest_per_input.get(parent.task_spec)
            if held is None or held.last_state_change < task.last_state_change:
                latest_per_input[parent.task_spec] = task
        for task in latest_per_input.values():
            keep.update((task.id, task._parent))
    return keep


def _rebuild(workflow, keep: set[UUID]) -> int:
    """Drop every task not in ``keep``; re-parent kept tasks to their nearest kept ancestor."""
    tasks = workflow.tasks
    if len(keep) == len(tasks):
        return 0
    new_parent: dict[UUID, UUID | None] = {}
    for task_id in keep:
        task = tasks[task_id]
        parent_id = task._parent
        while parent_id is not None and parent_id not in keep:
            parent_id = tasks[parent_id]._parent if parent_id in tasks else None
        new_parent[task_id] = parent_id
    adopted: dict[UUID, list[UUID]] = {}
    for task_id, task in tasks.items():  # creation order: siblings stay in the order they were made
        if task_id in keep and new_parent[task_id] != task._parent and new_parent[task_id] is not None:
            adopted.setdefault(new_parent[task_id], []).append(task_id)
    manager = workflow.top_workflow.event_manager
    removed = 0
    for task_id in [t for t in tasks if t not in keep]:
        manager.tasks.pop(task_id, None)
        del tasks[task_id]
        removed += 1
    for task_id, task in tasks.items():
        task._parent = new_parent[task_id]
        task._children = [c for c in task._children if c in keep and new_parent[c] == task_id]
        task._children += [c for c in adopted.get(task_id, []) if c not in task._children]
    return removed


def compact(wf) -> int:
    """Drop the completed passes nothing open depends on; returns how many tasks were dropped."""
    top = wf.top_workflow
    removed = 0
    # Parents before children: a subworkflow survives only if its task in the parent workflow does.
    for workflow in sorted(workflows(top), key=lambda w: w.depth):
        removed += _rebuild(workflow, _keep_set(workflow))
    removed += _drop_dead_subworkflows(top)
    return removed


def _owner_task(top, sub):
    for workflow in workflows(top):
        task = workflow.tasks.get(sub.parent_task_id)
        if task is not None:
            return task
    return None


def _drop_dead_subworkflows(top) -> int:
    removed = 0
    changed = True
    while changed:
        changed = False
        for sub_id, sub in list(top.subprocesses.items()):
            owner = _owner_task(top, sub)
            if owner is None or not owner.has_state(LIVE):
                removed += len(sub.tasks)
                for task_id in sub.tasks:
                    top.event_manager.tasks.pop(task_id, None)
                del top.subprocesses[sub_id]
                changed = True
    return removed


def shape(wf) -> Shape:
    """Tasks, deepest chain and subworkflows of a workflow state (for the size guard)."""
    top = wf.top_workflow
    count, depth = 0, 0
    for workflow in workflows(top):
        count += len(workflow.tasks)
        depth = max(depth, _depth(workflow))
    return Shape(count, depth, len(top.subprocesses))


def _depth(workflow) -> int:
    best = 0
    stack = [(workflow.task_tree, 0)] if workflow.task_tree is not None else []
    while stack:
        task, level = stack.pop()
        best = max(best, level)
        stack.extend((workflow.tasks[c], level + 1) for c in task._children if c in workflow.tasks)
    return best


def waiting_anywhere(wf) -> list:
    """Tasks waiting, ready or started in any workflow, found without the iterator's depth limit."""
    return [t for workflow in workflows(wf) for t in workflow.tasks.values() if t.has_state(WAITING_ANYWHERE)]


@dataclass
class Limits:
    """When a stored state needs an administrator: bytes of the stored state, depth of a task tree."""

    max_bytes: int = 2_000_000
    max_depth: int = 500


LIMITS = Limits()


def configure_limits(max_bytes: int | None = None, max_depth: int | None = None) -> None:
    """Set the guard's limits (the composition root passes the configured values)."""
    if max_bytes:
        LIMITS.max_bytes = int(max_bytes)
    if max_depth:
        LIMITS.max_depth = int(max_depth)


def problem(wf, state_bytes: int) -> str | None:
    """Why a state must not run on unseen: too big, too deep, or complete while a task still waits."""
    found = shape(wf)
    if state_bytes > LIMITS.max_bytes:
        return f"workflow state is {state_bytes} bytes (limit {LIMITS.max_bytes}; {found.tasks} tasks)"
    if found.depth > LIMITS.max_depth:
        return f"workflow task tree is {found.depth} deep (limit {LIMITS.max_depth}; {found.tasks} tasks)"
    if wf.top_workflow.is_completed():
        waiting = waiting_anywhere(wf)
        if waiting:
            names = sorted({t.task_spec.bpmn_id or t.task_spec.name for t in waiting})
            return f"SpiffWorkflow reports the case complete while tasks still wait: {', '.join(names)}"
    return None
