"""The one door to SpiffWorkflow: everything outside ``engine.spiff`` speaks the project's types.

What is stored, and why:
- a definition's parsed spec is serialized once per deployed version (``spec_to_json``) and cached
  in memory once restored, so a case's stored state holds only the instance (task tree, data,
  events) and never a copy of the process definition;
- every instance state carries the SpiffWorkflow serializer version it was written with, so a later
  SpiffWorkflow can migrate it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.event_definition import ErrorEscalationEventDefinitionConverter
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import Conflict, Invalid, NotFound, OneWindowError, Problem
from engine.spiff import decisions, item_events, listeners, messages, people, prune
from engine.spiff.people import People
from engine.spiff.script_engine import ScriptLimit, make_script_engine
from engine.spiff.timers import install_clock

STATE_FORMAT = "ow1"  # our envelope around Spiff's dict: instance only, spec stored per definition

install_clock()


class ScriptFailed(OneWindowError):
    """A script, condition or decision in the process raised; the case stays where it was."""

    status = 422
    title = "Process script failed"


class ScriptLimitHit(ScriptFailed):
    """A script ran into a limit (time, CPU time, size, memory): refused, and the case is flagged."""

    title = "Process script stopped at its limit"


def _script_failed(message: str, exc: BaseException) -> ScriptFailed:
    """ScriptLimitHit when a sandbox limit is what SpiffWorkflow wrapped (Spiff keeps only the chain)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ScriptLimit):
            return ScriptLimitHit(f"{message.rstrip('. ')}; the script hit a limit and the case is flagged "
                                  "for an administrator")
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return ScriptFailed(message)


class _InstanceOnlyConverter(BpmnWorkflowConverter):
    """Spiff's workflow converter minus the spec: specs come from the definition cache."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializers() -> tuple[BpmnWorkflowSerializer, BpmnWorkflowSerializer]:
    spiff_config = dict(SPIFF_CONFIG)
    spiff_config[BusinessRuleTask] = decisions.ChainedBusinessRuleTaskConverter  # DRD chains stay stored
    for cls in (item_events.DataErrorEventDefinition, item_events.DataEscalationEventDefinition):
        spiff_config[cls] = ErrorEscalationEventDefinitionConverter
    spec_registry = BpmnWorkflowSerializer.configure(spiff_config)
    full = BpmnWorkflowSerializer(spec_registry)
    config = dict(spiff_config)
    config[BpmnWorkflow] = _InstanceOnlyConverter
    instance = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    return full, instance


_SPEC_SERIALIZER, _INSTANCE_SERIALIZER = _make_serializers()
SERIALIZER_VERSION = _INSTANCE_SERIALIZER.VERSION


def spec_registry():
    """The registry that converts specs to dicts (what SpiffWorkflow's spec diff compares)."""
    return _SPEC_SERIALIZER.registry


@dataclass(frozen=True)
class LoadedSpec:
    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass(frozen=True)
class UserTaskView:
    """A READY user task, as the store needs it."""

    id: str
    element_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    candidate_group: str | None  # the task's group: the first candidate group, else the lane
    people: People = People()


@dataclass(frozen=True)
class TimerView:
    id: str
    element_id: str
    due_at: datetime


@dataclass
class StepResult:
    """What one engine step did: tasks that ran (by element id) for clocks and history."""

    completed_elements: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    entered_waits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    fired_timers: list[tuple[str, str]] = field(default_factory=list)  # (element id, due instant), one per firing
    thrown: list[messages.Thrown] = field(default_factory=list)  # for engine.correlation to deliver


def spec_to_json(spec, subprocess_specs: dict[str, Any]) -> str:
    registry = _SPEC_SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = {
            "spec": registry.convert(spec),
            "subprocess_specs": {k: registry.convert(v) for k, v in subprocess_specs.items()},
        }
    finally:
        registry._encoder_mode = False
    # the encoder converts what convert() leaves in place (e.g. the data objects of data associations)
    return json.dumps(dct, separators=(",", ":"), cls=_SPEC_SERIALIZER._encoder_cls)


class SpecCache:
    """Restored specs by definition id; specs are read-only during execution so threads share them."""

    def __init__(self, size: int = 64):
        self._items: OrderedDict[Hashable, LoadedSpec] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: Hashable, spec_json: Callable[[], str]) -> LoadedSpec:
        """The restored spec for ``key`` (a database and a definition id: deployed definitions never
        change); ``spec_json`` is called, a database read, only on a miss."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        dct = json.loads(spec_json())
        registry = _SPEC_SERIALIZER.registry
        loaded = LoadedSpec(
            registry.restore(dct["spec"]),
            {k: registry.restore(v) for k, v in dct["subprocess_specs"].items()},
        )
        with self._lock:
            self._items[key] = loaded
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return loaded


SPECS = SpecCache()


def _script_engine():
    return make_script_engine()


def new_workflow(loaded: LoadedSpec, data: dict[str, Any]) -> BpmnWorkflow:
    wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=_script_engine())
    start = wf.task_tree
    for task in wf.get_tasks(state=TaskState.READY):
        task.data.update(data)
    start.data.update(data)
    return wf


def dump(wf: BpmnWorkflow, *, compacted: bool = False) -> str:
    """The instance state as JSON; ``compacted`` marks a state :func:`compact` has just cut, so
    :func:`restore` need not cut it again."""
    registry = _INSTANCE_SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = registry.convert(wf)
    finally:
        registry._encoder_mode = False
    dct["format"] = STATE_FORMAT
    if compacted:
        dct["compacted"] = True
    return json.dumps(dct, separators=(",", ":"), cls=_INSTANCE_SERIALIZER._encoder_cls)


def restore(state: str, loaded: LoadedSpec, serializer_version: str) -> BpmnWorkflow:
    """A stored case state, ready to run: compacted first unless it was stored compacted (a state
    written before compaction existed is cut to its frontier before it runs)."""
    dct = json.loads(state)
    wf = _from_dict(dct, loaded, serializer_version)
    if not dct.get("compacted"):
        compact(wf)
    return wf


def load(state: str, loaded: LoadedSpec, serializer_version: str) -> BpmnWorkflow:
    return _from_dict(json.loads(state), loaded, serializer_version)


def _from_dict(dct: dict[str, Any], loaded: LoadedSpec, serializer_version: str) -> BpmnWorkflow:
    dct = dict(dct)
    dct.pop("format", None)
    dct.pop("compacted", None)
    if serializer_version != SERIALIZER_VERSION:
        dct[_INSTANCE_SERIALIZER.VERSION_KEY] = serializer_version
        _INSTANCE_SERIALIZER.migrate(dct)
    wf = _INSTANCE_SERIALIZER.registry.restore(
        dct, spec=loaded.spec, subprocess_specs=loaded.subprocess_specs
    )
    wf.script_engine = _script_engine()
    return wf


def _properties(task_spec) -> dict[str, str]:
    ext = getattr(task_spec, "extensions", None) or {}
    return dict(ext.get("properties") or {})


def _people(task) -> People:
    """Who may work the task now (``engine.spiff.people``), expressions evaluated over its data."""
    spec = task.task_spec

    def evaluate(python: str):
        try:
            return task.workflow.script_engine.evaluate(task, python)
        except SpiffWorkflowException as exc:
            raise _script_failed(f"[{spec.bpmn_id}] who may work the task: {exc}", exc) from exc

    try:
        return people.resolve(_properties(spec), getattr(spec, "lane", None), evaluate)
    except (TypeError, ValueError) as exc:
        raise ScriptFailed(f"[{spec.bpmn_id}] who may work the task: {exc}") from exc


def ready_user_tasks(wf: BpmnWorkflow) -> list[UserTaskView]:
    views = []
    for task in wf.get_tasks(state=TaskState.READY, manual=True):
        spec = task.task_spec
        who = _people(task)
        views.append(
            UserTaskView(
                id=str(task.id),
                element_id=spec.bpmn_id or spec.name,
                name=spec.bpmn_name or spec.bpmn_id or spec.name,
                lane=getattr(spec, "lane", None),
                properties=_properties(spec),
                candidate_group=who.groups[0] if who.groups else None,
                people=who,
            )
        )
    return views


def _definitions(task) -> list[Any]:
    """The event definitions a waiting task catches: an event-based gateway (or a multiple event)
    waits on several at once, inside one ``MultipleEventDefinition``."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def waiting_timers(wf: BpmnWorkflow) -> list[TimerView]:
    timers = []
    for task in wf.top_workflow.event_manager.tasks.values() if hasattr(wf, "event_manager") else []:
        for definition in _definitions(task):
            if not isinstance(definition, TimerEventDefinition):
                continue
            due = _timer_due(definition.details(task).value)
            if due is not None:
                timers.append(TimerView(str(task.id), task.task_spec.bpmn_id or task.task_spec.name, due))
                break  # one row per waiting task: Spiff keeps one due instant per task
    return timers


def _timer_due(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return TimerEventDefinition.get_datetime(value)
        except ValueError:
            return None
    return None


def message_subscriptions(wf: BpmnWorkflow) -> list[messages.Subscription]:
    return messages.subscriptions(wf, _evaluate)


def waiting_messages(wf: BpmnWorkflow) -> list[str]:
    names = []
    for task in wf.event_manager.tasks.values():
        names += [d.name for d in _definitions(task) if isinstance(d, MessageEventDefinition)]
    return names


def _evaluate(task, python: str) -> Any:
    try:
        return task.workflow.script_engine.evaluate(task, python)
    except SpiffWorkflowException as exc:
        raise _script_failed(_describe(exc), exc) from exc


def _run_engine(wf: BpmnWorkflow, result: StepResult) -> None:
    def did_complete(task):
        spec = task.task_spec
        props = _properties(spec)
        # Gateways are routing, not history: recorded only when a designer hangs a property on one.
        if spec.bpmn_id and (props or not _is_gateway(spec)):
            result.completed_elements.append((str(task.id), spec.bpmn_id, props))
        thrown = messages.thrown_by(task, _evaluate, _jsonable)
        if thrown is not None:
            result.thrown.append(thrown)

    marks = _timer_marks(wf)
    try:
        wf.do_engine_steps(did_complete_task=did_complete)
        while listeners.close_listeners(wf):  # the process ended: its idle event sub-processes end too
            wf.do_engine_steps(did_complete_task=did_complete)
    except SpiffWorkflowException as exc:
        raise _script_failed(_describe(exc), exc) from exc
    wf.get_events()  # Spiff's copies of what was thrown outward: result.thrown carries them
    result.fired_timers += _fired_since(wf, marks)


def _timer_marks(wf: BpmnWorkflow) -> dict[UUID, tuple[Any, ...]]:
    """Each waiting timer before a step: (task, cycles left, next due) for cycles, (task,) otherwise."""
    marks: dict[UUID, tuple[Any, ...]] = {}
    for task in list(wf.top_workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MultipleEventDefinition):
            nested = [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
            definition = nested[0] if nested and not isinstance(nested[0], CycleTimerEventDefinition) else definition
        if isinstance(definition, CycleTimerEventDefinition):
            value = task._get_internal_data("event_value") or {}
            marks[task.id] = (task, value.get("cycles"), value.get("next"), value.get("duration"))
        elif isinstance(definition, TimerEventDefinition) and task.state == TaskState.WAITING:
            marks[task.id] = (task, task._get_internal_data("event_value"))
    return marks


def _fired_since(wf: BpmnWorkflow, marks: dict[UUID, tuple[Any, ...]]) -> list[tuple[str, str]]:
    """What fired between ``marks`` and now: one entry per occurrence of a cycle (cycles count down)."""
    fired: list[tuple[str, str]] = []
    for mark in marks.values():
        task = mark[0]
        element = task.task_spec.bpmn_id or task.task_spec.name
        if len(mark) == 4:
            _task, cycles, nxt, duration = mark
            value = task._get_internal_data("event_value") or {}
            if cycles is None or nxt is None or value.get("cycles") is None:
                continue
            first = datetime.fromisoformat(nxt)
            for n in range(cycles - value["cycles"]):
                fired.append((element, (first + timedelta(seconds=n * (duration or 0))).isoformat()))
        elif task.has_state(TaskState.READY | TaskState.COMPLETED):
            due = _timer_due(mark[1])
            fired.append((element, due.isoformat() if due else ""))
    return fired


def _is_gateway(spec) -> bool:
    return "Gateway" in type(spec).__name__ or type(spec).__name__.endswith(("Join", "Split"))


def _describe(exc: Exception) -> str:
    spec = getattr(getattr(exc, "task", None), "task_spec", None) or getattr(exc, "task_spec", None)
    where = f"[{spec.bpmn_id}] " if spec is not None and getattr(spec, "bpmn_id", None) else ""
    return f"{where}{exc}"


def start(wf: BpmnWorkflow) -> StepResult:
    result = StepResult()
    _run_engine(wf, result)
    return result


def complete_user_task(wf: BpmnWorkflow, task_id: str, data: dict[str, Any]) -> StepResult:
    task = wf.get_task_from_id(UUID(task_id))
    if task is None or not task.task_spec.manual:
        raise NotFound(f"no user task {task_id} in this case")
    if task.state != TaskState.READY:
        raise Conflict("the task is no longer waiting")
    result = StepResult()
    task.data.update(data)
    try:
        task.run()
    except SpiffWorkflowException as exc:
        raise _script_failed(_describe(exc), exc) from exc
    spec = task.task_spec
    result.completed_elements.append((task_id, spec.bpmn_id, _properties(spec)))
    _run_engine(wf, result)
    return result


def deliver_message(wf: BpmnWorkflow, name: str, payload: Any) -> StepResult:
    check_size(payload, "payload")
    if name not in waiting_messages(wf):
        raise Conflict(f"the case is not waiting for message '{name}'")
    event = BpmnEvent(MessageEventDefinition(name), payload)
    try:
        wf.send_event(event)
    except WorkflowException as exc:
        raise Conflict(str(exc)) from exc
    result = StepResult()
    _run_engine(wf, result)
    return result


MAX_FIRINGS_PER_TICK = 10_000


def fire_timers(wf: BpmnWorkflow) -> StepResult:
    """Fire every timer due by the system clock, in order, and run on; returns what ran and what fired.

    A repeating timer (``R/P1D``) fires once per occurrence: a tick that comes after several
    occurrences have passed fires each of them in turn, the engine running each one as of its due
    instant (so one occurrence's work is done before the next fires, and a timer started on the way
    counts from when its cause happened). A timer due exactly now fires now: Spiff compares strictly,
    hence the microsecond.
    """
    result = StepResult()
    now = clock.now()
    for _ in range(MAX_FIRINGS_PER_TICK):
        due = sorted(t.due_at for t in waiting_timers(wf) if t.due_at <= now)
        if not due:
            break
        before = len(result.fired_timers)
        with clock.frozen(due[0] + timedelta(microseconds=1)):
            marks = _timer_marks(wf)
            wf.refresh_timers()
            result.fired_timers += _fired_since(wf, marks)
            _run_engine(wf, result)
        if len(result.fired_timers) == before:
            break
    return result


def cancel(wf: BpmnWorkflow) -> None:
    wf.cancel()


def is_complete(wf: BpmnWorkflow) -> bool:
    """Complete only when Spiff says so *and* no task waits anywhere (every subworkflow, no depth limit)."""
    return wf.is_completed() and not prune.waiting_anywhere(wf)


def compact(wf: BpmnWorkflow) -> int:
    """Drop the completed passes nothing open depends on (see ``engine.spiff.prune``)."""
    return prune.compact(wf)


def state_problem(wf: BpmnWorkflow, state: str) -> str | None:
    """Why this stored state needs an administrator (too big, too deep, complete while waiting), or None."""
    return prune.problem(wf, len(state.encode()))


def waiting_elements(wf: BpmnWorkflow) -> list[tuple[str, str, dict[str, str]]]:
    """Catching events and receive tasks the case is waiting in (for clocks that pause while waiting)."""
    out = []
    for task in wf.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        if isinstance(spec, CatchingEvent) and spec.bpmn_id:
            out.append((str(task.id), spec.bpmn_id, _properties(spec)))
    return out


def data_of(wf: BpmnWorkflow) -> dict[str, Any]:
    """The case data as it stands: the last completed task's data merged over the workflow's."""
    data = dict(wf.data)
    last = wf.last_task
    if last is not None:
        data.update(last.data)
    return _jsonable(data)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# What one start, completion or message may add to a case: form fields and short texts. Files go to
# the materials store, never into case data; the whole state is watched separately (prune.LIMITS).
MAX_DATA_BYTES = 256 * 1024


def check_size(value: Any, field_name: str) -> None:
    """Raise Invalid when ``value`` takes more than MAX_DATA_BYTES as JSON."""
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > MAX_DATA_BYTES:
        raise Invalid(f"{field_name} is too large",
                      [Problem(f"{size} bytes as JSON; at most {MAX_DATA_BYTES}", field=field_name)])


def validate_data(data: Any, field_name: str = "data") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object", [Problem("must be an object", field=field_name)])
    bad = [k for k in data if not isinstance(k, str) or k.startswith("_") or not k.isidentifier()]
    if bad:
        raise Invalid(
            "data keys must be identifiers",
            [Problem(f"'{k}' is not a valid variable name", field=f"{field_name}.{k}") for k in bad],
        )
    check_size(data, field_name)
    return data


def ids(items: Iterable[UserTaskView]) -> set[str]:
    return {i.id for i in items}
