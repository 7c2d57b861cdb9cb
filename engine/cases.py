"""Cases: start, complete a user task, claim, deliver a message, fire timers, cancel.

Every function here is one state change inside the caller's unit of work: lock the case row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers at BEGIN IMMEDIATE), check the
optimistic version, run SpiffWorkflow, save the state, update the task rows and timers, append the
history. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine import clock, correlation, events, forms, involvement, office, opinions, policy, store
from engine.db import UnitOfWork
from engine.definitions import latest
from engine.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from engine.identity import SYSTEM, Actor
from engine.models import Case, CaseEvent, ProcessDefinition, Task, TaskCandidate, Timer
from engine.spiff import runtime
from engine.spiff.runtime import SPECS, StepResult
from engine.task_state import Action, EarlierSteps, TaskState, can, separated_from, separation_refusal

OPEN_STATES = (TaskState.OPEN.value, TaskState.CLAIMED.value)

# Feature packages check a task's completion data before the engine runs it (e.g. intake: the
# acceptance decision and the issuance data), whatever entry point completes the task. A check
# raises Invalid, or returns the (normalised) data to complete with, or None to leave it as is.
CompletionCheck = Callable[[UnitOfWork, Case, Task, dict[str, Any], Actor], "dict[str, Any] | None"]
_completion_checks: list[tuple[str, CompletionCheck]] = []


def add_completion_check(name: str, check: CompletionCheck) -> None:
    """Register ``check`` (once per ``name``) to run inside :func:`complete` before the engine moves."""
    if all(n != name for n, _ in _completion_checks):
        _completion_checks.append((name, check))


@dataclass
class Loaded:
    case: Case
    workflow: Any


def _lock_case(uow: UnitOfWork, case_id: int) -> Case:
    case = store.lock_case(uow, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


def case_by_no(session: Session, case_no: str) -> Case:
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None:
        raise NotFound(f"no case {case_no}")
    return case


def loaded_spec(session: Session, definition_id: int) -> runtime.LoadedSpec:
    """The restored spec of a deployed definition (from the spec cache)."""
    def read() -> str:
        return session.scalar(select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id))

    return SPECS.get((str(session.get_bind().url), definition_id), read)


def load_workflow(case: Case) -> Any:
    """The case's workflow, restored from its stored state on its own definition."""
    loaded = loaded_spec(object_session(case), case.definition_id)
    # a state stored before compaction existed is cut to its frontier before it runs
    return runtime.restore(case.state, loaded, case.serializer_version)


def open_case(uow: UnitOfWork, case_no: str) -> Loaded:
    """Lock a case by number and restore its workflow (for feature services acting on it)."""
    case = _lock_case(uow, case_by_no(uow.session, case_no).id)
    return Loaded(case, load_workflow(case))


def _next_case_no(case_id: int) -> str:
    day = clock.now().astimezone(office.zone).strftime("%Y%m%d")
    return f"{office.case_prefix}{day}{case_id:07d}"


def start_case(uow: UnitOfWork, process_id: str, data: dict[str, Any], actor: Actor, *,
               service_code: str | None = None, subject: str | None = None,
               definition: ProcessDefinition | None = None, meta: dict[str, Any] | None = None,
               depth: int = 0) -> Case:
    """Start a case on the latest version of ``process_id`` and run it to its first wait.

    The process names who may start it (engine.policy.starters); raises Forbidden for anyone else.

    ``meta`` is recorded on the case_started event for subscribers (e.g. the service item's limits:
    promised_working_days, statutory_working_days, warning_working_days).
    """
    definition = definition or latest(uow.session, process_id)
    started_as = policy.starting_as(actor, policy.starters(definition.properties))
    if started_as is None:  # who may, before what they sent: 403 comes before 422
        allowed = ", ".join(sorted(policy.starters(definition.properties))) or "the system only"
        raise Forbidden(f"you may not start process '{definition.process_id}' (started by: {allowed})")
    data = runtime.validate_data(data)
    initiator = (definition.properties or {}).get("initiator")
    if initiator and initiator.isidentifier():  # camunda:initiator: the starter's name in the data
        data = {**data, initiator: actor.username}
    loaded = loaded_spec(uow.session, definition.id)
    wf = runtime.new_workflow(loaded, data)
    now = clock.now()
    case = Case(
        definition_id=definition.id, process_id=definition.process_id, status="running", state="{}",
        serializer_version=runtime.SERIALIZER_VERSION, subject=subject, service_code=service_code,
        summary={}, created_at=now, updated_at=now, created_by=actor.username, started_as=started_as,
    )
    case.definition = definition
    uow.session.add(case)
    uow.session.flush()
    case.case_no = _next_case_no(case.id)
    uow.session.flush()
    batch = events.Batch(uow, case.id)
    batch.add(events.CASE_STARTED, actor=actor.username,
              data={"process_id": definition.process_id, "version": definition.version,
                    "service_code": service_code, "process_properties": definition.properties,
                    **(meta or {})})
    result = runtime.start(wf)
    _save(uow, case, wf, result, actor, batch, depth=depth)
    return case


@contextmanager
def _flagged_if_a_script_hits_a_limit(uow: UnitOfWork, case: Case, actor: Actor) -> Iterator[None]:
    """A script that hits a limit refuses the whole change (the unit of work rolls back: the case stays
    where it was), and the case is flagged for an administrator in a transaction of its own."""
    try:
        yield
    except runtime.ScriptLimitHit as exc:
        case_id, reason = case.id, str(exc)
        uow.after_rollback(lambda again: _flag(again, case_id, reason, actor))
        raise


def _flag(uow: UnitOfWork, case_id: int, reason: str, actor: Actor) -> None:
    case = store.lock_case(uow, case_id)
    if case is None or case.flagged:  # flagged once; an administrator clears it
        return
    case.flagged, case.updated_at = reason, clock.now()
    events.record(uow, case.id, "case_flagged", actor=actor.username, data={"reason": reason})
    uow.session.flush()


def _task_for_update(uow: UnitOfWork, task_id: str) -> tuple[Task, Case, dict[str, Task]]:
    """Lock the task's case, then read the task and the case's open tasks in one query."""
    found = store.lock_case_of_task(uow, task_id)
    if found is None or task_id not in found[1]:
        raise NotFound(f"no task {task_id}")
    case, rows = found
    return rows[task_id], case, {k: v for k, v in rows.items() if v.state in OPEN_STATES}


def _decide(uow: UnitOfWork, task: Task, actor: Actor, action: Action,
            expected_version: int | None) -> tuple[TaskState, EarlierSteps]:
    """Ask the state machine under the case lock; raises Forbidden or Conflict when refused."""
    earlier = involvement.earlier_actors(uow.session, task.case_id, separated_from(task))
    return can(actor, task, action, earlier=earlier, version=expected_version).check(), earlier


def claim(uow: UnitOfWork, task_id: str, actor: Actor, expected_version: int | None = None) -> Task:
    task, case, _open = _task_for_update(uow, task_id)
    _decide(uow, task, actor, Action.CLAIM, expected_version)
    if task.state == TaskState.CLAIMED:
        return task  # already mine: a double click is not an error
    task.state, task.assignee = TaskState.CLAIMED.value, actor.username
    events.record(uow, case.id, "task_claimed", actor=actor.username, element_id=task.element_id,
                  task_id=task.id)
    case.updated_at = clock.now()
    uow.session.flush()
    return task


def unclaim(uow: UnitOfWork, task_id: str, actor: Actor, expected_version: int | None = None) -> Task:
    task, case, _open = _task_for_update(uow, task_id)
    task.state = _decide(uow, task, actor, Action.UNCLAIM, expected_version)[0].value
    task.assignee = None
    events.record(uow, case.id, "task_unclaimed", actor=actor.username, element_id=task.element_id,
                  task_id=task.id)
    uow.session.flush()
    return task


def assign(uow: UnitOfWork, task_id: str, actor: Actor, to_user: str, *, action: Action, reason: str = "",
           expected_version: int | None = None) -> Task:
    """Hand a task to ``to_user`` (``Action.DELEGATE`` or ``Action.REASSIGN``; the caller checked that
    ``to_user`` is a colleague in the task's group). Raises Forbidden, Conflict, Invalid (field ``to``)."""
    task, case, _open = _task_for_update(uow, task_id)
    next_state, earlier = _decide(uow, task, actor, action, expected_version)
    barred = separation_refusal(to_user, task, earlier)
    if barred:
        raise Invalid(barred, [Problem(barred, field="to")])
    previous = task.assignee
    task.state, task.assignee = next_state.value, to_user
    kind = "delegated" if action == Action.DELEGATE else "reassigned"
    events.record(uow, case.id, f"task_{kind}", actor=actor.username, element_id=task.element_id,
                  task_id=task.id, data={"from": previous, "to": to_user, "reason": reason})
    uow.session.flush()
    return task


def complete(uow: UnitOfWork, task_id: str, data: dict[str, Any], actor: Actor,
             expected_version: int | None = None, history: dict[str, Any] | None = None,
             action: Action = Action.COMPLETE, *, sent_back: str | None = None) -> Case:
    """Complete a user task with form data and run the case on to its next wait (``action``:
    ``Action.SEND_BACK`` when the data takes the modelled send-back path).

    The step writes only what its form declares (Invalid names every other field), checked against
    the form's schema; its opinion field is signed as a record (engine.opinions), not kept in the case
    data. ``sent_back`` is the reason of a send back (退回): the step completes along its modelled
    send-back flow and the reason is signed as its opinion.
    """
    data = runtime.validate_data(data)
    task, case, open_rows = _task_for_update(uow, task_id)
    if sent_back is not None:
        action = Action.SEND_BACK
    _decide(uow, task, actor, action, expected_version)
    form = forms.step_form(uow.session, case.definition_id, task.element_id, task.properties)
    data = form.completion(data, sent_back=sent_back)
    for _name, check in _completion_checks:
        data = check(uow, case, task, data, actor) or data
    form.admit(data)  # a feature's check may normalise the data, never widen it
    written = form.case_data(data)
    wf = load_workflow(case)
    with _flagged_if_a_script_hits_a_limit(uow, case, actor):
        result = runtime.complete_user_task(wf, task_id, written)
        now = clock.now()
        signed = opinions.sign(uow, case, task, actor, form, data, sent_back=sent_back, at=now)
        done = {"state": TaskState.COMPLETED.value, "completed_at": now, "completed_by": actor.username,
                "data": {**data, **written}}
        if task.assignee is None:
            done["assignee"] = actor.username
        if sent_back is not None:
            history = {**(history or {}), "transition": "send_back", "reason": sent_back}
        batch = events.Batch(uow, case.id)
        batch.add(events.TASK_COMPLETED, actor=actor.username, element_id=task.element_id,
                  task_id=task.id, data={"data": done["data"], **(history or {}), "group": task.group, **signed})
        open_rows.pop(task_id, None)
        _save(uow, case, wf, result, actor, batch, completed_task=task_id, open_rows=open_rows,
              task_updates=[(task, done)])
    return case


def deliver_message(uow: UnitOfWork, case_no: str, name: str, payload: Any, actor: Actor) -> Case:
    """Deliver message ``name`` to one case (correlation is the case itself).

    Only those the message's ``deliverableBy`` names may (engine.policy.may_deliver); someone who may
    not even read the case gets 404, like any other request about it.
    """
    if not name or len(name) > 128:
        raise Invalid("bad message name", [Problem("a message name is required", field="name")])
    case = _lock_case(uow, case_by_no(uow.session, case_no).id)
    senders = (case.definition.message_senders or {}).get(name, [])
    if not policy.may_deliver(actor, senders):
        if not policy.may_read_case(actor, involvement.case_facts(uow.session, case.id)):
            raise NotFound(f"no case {case_no}")
        raise Forbidden(f"you may not deliver message '{name}' (deliverableBy: {', '.join(senders) or 'the system'})")
    return _deliver(uow, case.id, name, payload, actor, 0)


def _deliver(uow: UnitOfWork, case_id: int, name: str, payload: Any, actor: Actor, depth: int) -> Case:
    case = _lock_case(uow, case_id)
    if case.status != "running":
        raise Conflict(f"case {case.case_no} is {case.status}")
    wf = load_workflow(case)
    with _flagged_if_a_script_hits_a_limit(uow, case, actor):
        result = runtime.deliver_message(wf, name, payload)
        batch = events.Batch(uow, case.id)
        batch.add("message_received", actor=actor.username, data={"name": name, "payload": payload})
        _save(uow, case, wf, result, actor, batch, depth=depth)
    return case


def _start_by_message(uow: UnitOfWork, definition: ProcessDefinition, name: str, payload: Any, actor: Actor,
                      depth: int) -> Case:
    """A thrown message with no waiting case starts a case at the process's message start event."""
    case = start_case(uow, definition.process_id, {}, actor, definition=definition, depth=depth)
    return _deliver(uow, case.id, name, payload, actor, depth)


def fire_timers(uow: UnitOfWork, case_id: int, actor: Actor) -> list[str]:
    """Fire this case's timers that are due by the system clock; returns the element ids fired."""
    case = _lock_case(uow, case_id)
    if case.status != "running":
        return []
    due = [t for t in uow.session.scalars(select(Timer).where(Timer.case_id == case_id))
           if t.due_at <= clock.now()]
    if not due:
        return []
    wf = load_workflow(case)
    with _flagged_if_a_script_hits_a_limit(uow, case, actor):
        result = runtime.fire_timers(wf)
        # records one timer_fired per firing (a cycle may fire several)
        _save(uow, case, wf, result, actor, events.Batch(uow, case.id))
    return [element_id for element_id, _due in result.fired_timers]


def due_timer_cases(session: Session, limit: int = 500) -> list[int]:
    return list(session.scalars(
        select(Timer.case_id).where(Timer.due_at <= clock.now()).group_by(Timer.case_id).limit(limit)
    ))


def cancel(uow: UnitOfWork, case_no: str, actor: Actor, reason: str) -> Case:
    case = _lock_case(uow, case_by_no(uow.session, case_no).id)
    if case.status != "running":
        raise Conflict(f"case {case_no} is {case.status}")
    wf = load_workflow(case)
    runtime.cancel(wf)
    batch = events.Batch(uow, case.id)
    batch.add("case_cancelled", actor=actor.username, data={"reason": reason})
    _save(uow, case, wf, StepResult(), actor, batch, cancelled=True)
    return case


def _save(uow: UnitOfWork, case: Case, wf: Any, result: StepResult, actor: Actor, batch: events.Batch, *,
          completed_task: str | None = None, cancelled: bool = False,
          open_rows: dict[str, Task] | None = None,
          task_updates: list[tuple[Task, dict[str, Any]]] | None = None, depth: int = 0,
          case_values: dict[str, Any] | None = None) -> None:
    """Write what one engine step did: task rows, timers, history and the case's new state
    (``case_values``: further columns of the case row that change with it, e.g. its definition)."""
    now = clock.now()
    task_updates = list(task_updates or [])
    for element_id, due_at in result.fired_timers:
        batch.add("timer_fired", actor=actor.username, element_id=element_id, data={"due_at": due_at})
    for task_id, element_id, props in result.completed_elements:
        if task_id == completed_task:
            continue
        if props or element_id:
            batch.add(events.ELEMENT_COMPLETED, actor=actor.username, element_id=element_id, task_id=task_id,
                      data={"properties": props})
    ready = {t.id: t for t in runtime.ready_user_tasks(wf)}
    rows = open_rows if open_rows is not None else store.open_tasks(uow, case.id)
    for task_id, row in rows.items():
        if task_id not in ready:
            task_updates.append((row, {"state": "cancelled", "completed_at": now}))
            batch.add(events.TASK_CANCELLED, actor=actor.username, element_id=row.element_id, task_id=task_id)
    created: list[dict[str, Any]] = []
    candidates: list[TaskCandidate] = []
    for task_id, view in ready.items():
        if task_id in rows:
            continue
        if not view.people.anyone:
            raise Invalid(f"task {view.element_id} names nobody who may work it (lane, candidateGroups, "
                          "candidateUsers or assignee)", [Problem("nobody may work it", element_id=view.element_id)])
        created.append(_task_row(case, task_id, view, now))
        candidates += candidate_rows(task_id, view.people)
        batch.add(events.TASK_CREATED, actor=actor.username, element_id=view.element_id, task_id=task_id,
                  data={"group": view.candidate_group or "", "properties": view.properties,
                        **({"assignee": view.people.assignee} if view.people.assignee else {}),
                        **({"candidates": candidates_of(view.people)} if candidates_of(view.people) else {})})
    summary = dict(case.summary or {})
    _sync_waits(batch, summary, wf, actor)
    runtime.compact(wf)  # bounded state: completed passes live on only in the history (issue 6)
    state = runtime.dump(wf, compacted=True)
    values: dict[str, Any] = {**(case_values or {}), "state": state,
                              "serializer_version": runtime.SERIALIZER_VERSION, "updated_at": now}
    status = case.status
    if cancelled:
        status = values["status"] = "cancelled"
        values["ended_at"] = now
        batch.add(events.CASE_ENDED, actor=actor.username, data={"outcome": "cancelled"})
    elif runtime.is_complete(wf):
        status = values["status"] = "completed"
        values["ended_at"] = now
        data = runtime.data_of(wf)
        batch.add(events.CASE_ENDED, actor=actor.username,
                  data={"outcome": data.get("result") or data.get("outcome") or "completed",
                        "end": _end_element(wf)})
    # flag the case to an administrator when its state is too big, too deep or wrongly complete
    reason = runtime.state_problem(wf, state)
    if reason and not case.flagged:  # flagged once; an administrator clears it
        values["flagged"] = reason
        batch.add("case_flagged", actor=actor.username, data={"reason": reason})
    _sync_timers(uow, case, wf, status, summary)
    correlation.sync_waits(uow, case, wf, status, summary)
    if summary != (case.summary or {}):
        values["summary"] = summary
    batch.written(store.write(uow, case, values, task_updates=task_updates, new_tasks=created,
                              events=batch.rows))
    if candidates:  # after the task rows they point at
        uow.session.add_all(candidates)
        uow.session.flush()
    if result.thrown:  # after this case is saved: a taker may message it back
        correlation.dispatch(
            uow, case, result.thrown, actor.username, depth,
            # the designer modelled the delivery: the system delivers and starts, whoever's step threw it
            deliver=lambda case_id, name, payload, d: _deliver(uow, case_id, name, payload, SYSTEM, d),
            start=lambda definition, name, payload, d: _start_by_message(uow, definition, name, payload, SYSTEM, d))


save_step = _save  # for the engine's other services that change a case (engine.migration)


def candidates_of(who: runtime.People) -> dict[str, list[str]]:
    """The task's further candidates: groups after its first, and candidate users (an assignee is one
    too, so a task assigned outside its group stays theirs to work, and to take back after unclaiming)."""
    users = list(dict.fromkeys([*who.users, *([who.assignee] if who.assignee else [])]))
    out = {"groups": list(who.groups[1:]), "users": users}
    return {k: v for k, v in out.items() if v}


def candidate_rows(task_id: str, who: runtime.People) -> list[TaskCandidate]:
    found = candidates_of(who)
    return [TaskCandidate(task_id=task_id, kind="group", name=g) for g in found.get("groups", [])] + \
        [TaskCandidate(task_id=task_id, kind="user", name=u) for u in found.get("users", [])]


def _task_row(case: Case, task_id: str, view: runtime.UserTaskView, now) -> dict[str, Any]:
    return {"id": task_id, "case_id": case.id, "case_no": case.case_no, "process_id": case.process_id,
            "service_code": case.service_code, "element_id": view.element_id, "name": view.name,
            "group": view.candidate_group or "", "assignee": view.people.assignee,
            "candidates": candidates_of(view.people) or None,
            "state": "claimed" if view.people.assignee else "open", "properties": view.properties,
            "data": None, "created_at": now, "completed_at": None, "completed_by": None, "due_at": None,
            "sla_level": None, "version": 1}


def _end_element(wf: Any) -> str | None:
    last = wf.last_task
    return last.task_spec.bpmn_id if last is not None else None


def _sync_waits(batch: events.Batch, summary: dict[str, Any], wf: Any, actor: Actor) -> None:
    before = dict(summary.get("waiting", {}))
    now_waiting = {tid: (eid, props) for tid, eid, props in runtime.waiting_elements(wf)}
    for tid, (eid, props) in now_waiting.items():
        if tid not in before:
            batch.add(events.CASE_WAITING, actor=actor.username, element_id=eid, task_id=tid,
                      data={"properties": props})
    for tid, eid in before.items():
        if tid not in now_waiting:
            batch.add(events.CASE_RESUMED, actor=actor.username, element_id=eid, task_id=tid)
    summary["waiting"] = {tid: eid for tid, (eid, _p) in now_waiting.items()}


def _sync_timers(uow: UnitOfWork, case: Case, wf: Any, status: str, summary: dict[str, Any]) -> None:
    session = uow.session
    wanted = {t.id: t for t in runtime.waiting_timers(wf)} if status == "running" else {}
    if not wanted and not summary.get("timers"):
        return  # no timer before, none now: spare the query
    current = {t.id: t for t in session.scalars(select(Timer).where(Timer.case_id == case.id))}
    summary["timers"] = len(wanted)
    for tid, row in current.items():
        if tid not in wanted:
            session.delete(row)
        elif row.due_at != wanted[tid].due_at:
            row.due_at = wanted[tid].due_at
    for tid, view in wanted.items():
        if tid not in current:
            session.add(Timer(id=tid, case_id=case.id, element_id=view.element_id, due_at=view.due_at))


def case_view(session: Session, case: Case, *, with_data: bool = True) -> dict[str, Any]:
    """Status, data, open tasks and the whole history of one case."""
    tasks = session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.created_at, Task.id))
    history = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    view = {
        "case_no": case.case_no,
        "process_id": case.process_id,
        "version": case.definition.version,
        "status": case.status,
        "service_code": case.service_code,
        "subject": case.subject,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "ended_at": case.ended_at.isoformat() if case.ended_at else None,
        "waiting_for": sorted(set((case.summary or {}).get("waiting", {}).values())),
        "due_date": case.due_date.isoformat() if case.due_date else None,  # the case clock's, read by sla
        "sla_level": case.sla_level,
        "open_tasks": [task_dict(t) for t in tasks if t.state in OPEN_STATES],
        "opinions": [opinions.as_dict(o) for o in opinions.of_case(session, case.id)],
        "history": [
            {"what": e.kind, "who": e.actor, "when": e.at.isoformat(), "element_id": e.element_id,
             "task_id": e.task_id, "data": e.data}
            for e in history
        ],
    }
    if with_data:
        view["data"] = runtime.data_of(load_workflow(case))
    return view


def task_dict(t: Task) -> dict[str, Any]:
    return {
        "id": t.id, "case_no": t.case_no, "process_id": t.process_id, "service": t.service_code,
        "name": t.name, "element_id": t.element_id, "group": t.group, "assignee": t.assignee,
        "state": t.state, "version": t.version,
        "created_at": t.created_at.isoformat(), "due_date": t.due_at.isoformat() if t.due_at else None,
        "sla_level": t.sla_level, "completed_at": t.completed_at.isoformat() if t.completed_at else None,
        "completed_by": t.completed_by,
    }
