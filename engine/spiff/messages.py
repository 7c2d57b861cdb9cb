"""Messages between cases, as Spiff sees them: what a step threw, what a case waits for, which
messages start a process.

SpiffWorkflow delivers a thrown message only inside the workflow that threw it and leaves the rest
in ``workflow.bpmn_events`` for the application. onewindow takes every message a send task, an
intermediate throw event or an end event throws, with its payload and correlation key, and
``engine.correlation`` delivers it to the waiting cases with the same name and key, or starts a case
at a message start event.

The correlation key is the element's ``correlationKey`` property (``zeebe:subscription`` on the
message gives it to every element that uses the message; ``engine.spiff.dialects``), a literal or an
expression over the case data: on the thrower's data when it throws, on the waiting case's data
while it waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

KEY_PROPERTY = "correlationKey"


@dataclass(frozen=True)
class Thrown:
    name: str
    payload: Any
    key: str | None
    element_id: str


@dataclass(frozen=True)
class Subscription:
    task_id: str
    name: str
    key: str | None


def _properties(spec) -> dict[str, str]:
    return dict((getattr(spec, "extensions", None) or {}).get("properties") or {})


def _key(task, spec, evaluate) -> str | None:
    text = (_properties(spec).get(KEY_PROPERTY) or "").strip()
    if not text:
        return None
    value = evaluate(task, text[1:]) if text.startswith("=") else text
    return None if value is None else str(value)[:256]


def thrown_by(task, evaluate, jsonable) -> Thrown | None:
    """The message a just-completed task threw, or None."""
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if not isinstance(spec, ThrowingEvent) or not isinstance(definition, MessageEventDefinition):
        return None
    expression = getattr(definition, "expression", None)
    # Spiff's own payload expression if the designer wrote one, else the case data as it stands
    payload = evaluate(task, expression) if expression else jsonable(task.data)
    return Thrown(definition.name, jsonable(payload), _key(task, spec, evaluate), spec.bpmn_id or spec.name)


def _catching_specs(task) -> list[tuple[str, Any]]:
    """(message name, the element that names it) for a waiting task: an event-based gateway waits
    for the messages of the catch events after it."""
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MessageEventDefinition):
        return [(definition.name, spec)]
    if isinstance(definition, MultipleEventDefinition):
        names = {d.name for d in definition.event_definitions if isinstance(d, MessageEventDefinition)}
        found = [(o.event_definition.name, o) for o in spec.outputs
                 if isinstance(getattr(o, "event_definition", None), MessageEventDefinition)]
        return [(n, s) for n, s in found if n in names] + [(n, spec) for n in names - {n for n, _ in found}]
    return []


def subscriptions(wf, evaluate) -> list[Subscription]:
    """Every message the case waits for now, with the key it expects."""
    out = []
    for task in wf.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        for name, spec in _catching_specs(task):
            out.append(Subscription(str(task.id), name, _key(task, spec, evaluate)))
    return out


def start_messages(spec) -> list[str]:
    """The messages that start this process (its top-level message start events)."""
    names = set()
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(task_spec, StartEvent) and isinstance(definition, MessageEventDefinition):
            names.add(definition.name)
    return sorted(names)
