"""An event sub-process's listeners end with the process they listen in.

SpiffWorkflow keeps a (sub-)process's end join waiting for every unfinished task, including the start
event of a non-interrupting event sub-process that is only *listening* (its timer or message has not
started an instance, or the instances it started have finished). A cycle timer there would fire
forever and the case would never end. BPMN says the process completes when its own tokens are
consumed: so once nothing but such listeners is left, they are cancelled and the process ends. An
event sub-process instance that is still *running* (a task open inside it) keeps the process alive.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BpmnStartTask
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState


def _is_event_subprocess(spec) -> bool:
    # Spiff wires an event sub-process from the process's internal start, not from a flow (and does
    # not always give it its EventSubprocess class)
    return isinstance(spec, SubWorkflowTask) and any(isinstance(i, BpmnStartTask) for i in spec.inputs)


def _ending(task, workflow) -> bool:
    return task.task_spec.name in ("End", f"{workflow.spec.name}.EndJoin")


def _only_listening(top: BpmnWorkflow, task) -> bool:
    sub = top.subprocesses.get(task.id)
    if sub is None:
        return True
    for inner in sub.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        if _ending(inner, sub):
            continue
        if not (isinstance(inner.task_spec, StartEvent) and inner.state == TaskState.WAITING):
            return False
    return True


def close_listeners(top: BpmnWorkflow) -> bool:
    """Cancel the idle event sub-processes of every (sub-)process whose own flow has ended; True if
    any was cancelled (the caller runs the engine on, so the process completes)."""
    closed = False
    for workflow in [top, *list(top.subprocesses.values())]:
        unfinished = workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK, skip_subprocesses=True)
        listeners = [t for t in unfinished if _is_event_subprocess(t.task_spec)]
        if not listeners or not all(_only_listening(top, t) for t in listeners):
            continue
        if any(t not in listeners and not _ending(t, workflow) for t in unfinished):
            continue
        for task in listeners:
            if task.id in top.subprocesses:
                for inner in top.delete_subprocess(task):
                    if inner.id in top.event_manager.tasks:
                        top.event_manager.remove_task(inner)
            task.cancel()
        for task in workflow.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
            task.task_spec._update(task)  # the end join re-checks: nothing is left to wait for
        closed = True
    return closed
