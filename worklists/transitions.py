"""A task's transitions as a caseworker sees them: claim, unclaim, complete, send back, delegate, reassign.

Each one asks the task's state machine (engine.task_state.can) and makes one engine state change under
the case lock (engine.cases), with the optimistic ``version`` the client last saw. Order of answers:
404 no such task (or a case the actor may not read), 403 not yours to touch, 409 someone else holds or
finished it (naming them), 422 bad form data (naming the fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import cases, events, identity, involvement, opinions, policy, task_state
from engine.db import UnitOfWork
from engine.errors import Forbidden, Invalid, NotFound, Problem
from engine.forms import StepForm, step_form
from engine.identity import Actor
from engine.models import Case, Task
from engine.task_state import Action
from worklists import forms

SENT_BACK = "task_sent_back"


@dataclass
class TaskForm:
    """A task with what its page needs: the schema, last time's data, what the viewer may do, and
    the opinions (审批意见) signed in the case before it."""

    task: Task
    case: Case
    schema: dict[str, Any] | None
    defaults: dict[str, Any]
    send_back: tuple[str, str] | None
    allowed: dict[str, bool]
    colleagues: list[str]
    opinions: list[dict[str, Any]] = field(default_factory=list)


def visible_task(session: Session, task_id: str, actor: Actor) -> Task:
    """The task if the actor may read its case (engine.policy); 404 otherwise, as if it did not exist."""
    task = session.get(Task, task_id)
    if task is None or not policy.may_read_case(actor, involvement.case_facts(session, task.case_id)):
        raise NotFound(f"no task {task_id}")
    return task


def _earlier(session: Session, task: Task) -> task_state.EarlierSteps:
    return involvement.earlier_actors(session, task.case_id, task_state.separated_from(task))


def _check(session: Session, task: Task, actor: Actor, action: Action, version: int | None = None) -> None:
    """Answer 403 / 409 before judging the form (the engine asks again under the lock)."""
    task_state.can(actor, task, action, earlier=_earlier(session, task), version=version).check()


def form_of(session: Session, task: Task) -> StepForm:
    """The step's form as deployed with the case's process version (the engine checks with the same)."""
    case = session.get(Case, task.case_id)
    if case is None:
        raise NotFound(f"no task {task.id}")
    return step_form(session, case.definition_id, task.element_id, task.properties)


def schema_for(session: Session, task: Task) -> dict[str, Any] | None:
    return form_of(session, task).schema


def task_form(session: Session, task_id: str, actor: Actor) -> TaskForm:
    task = visible_task(session, task_id, actor)
    case = session.get(Case, task.case_id)
    form = form_of(session, task)
    rule = form.send_back
    earlier = _earlier(session, task)
    allowed = task_state.offered(actor, task, earlier=earlier)
    allowed[Action.SEND_BACK] = allowed[Action.SEND_BACK] and rule is not None
    colleagues = [u for u in identity.members_of(session, task.group)
                  if u != actor.username and task_state.separation_refusal(u, task, earlier) is None] \
        if allowed[Action.DELEGATE] or allowed[Action.REASSIGN] else []
    live = task.state in cases.OPEN_STATES
    defaults = forms.previous_data(session, task) if live else dict(task.data or {})
    signed = [opinions.as_dict(o) for o in opinions.before(session, task)]
    return TaskForm(task, case, form.schema, defaults, rule, allowed, colleagues, signed)


def claim(uow: UnitOfWork, task_id: str, actor: Actor, version: int | None = None) -> Task:
    visible_task(uow.session, task_id, actor)
    return cases.claim(uow, task_id, actor, version)


def unclaim(uow: UnitOfWork, task_id: str, actor: Actor, version: int | None = None) -> Task:
    visible_task(uow.session, task_id, actor)
    return cases.unclaim(uow, task_id, actor, version)


def complete(uow: UnitOfWork, task_id: str, data: Any, actor: Actor, version: int | None) -> Case:
    """Complete with form data: the engine writes only the fields the step's form declares."""
    if not isinstance(data, dict):
        raise Invalid("the form data must be an object", [Problem("expected an object", field="data")])
    task = visible_task(uow.session, task_id, actor)
    _check(uow.session, task, actor, Action.COMPLETE)
    return cases.complete(uow, task_id, data, actor, version)


def send_back(uow: UnitOfWork, task_id: str, reason: Any, actor: Actor, version: int | None,
              data: Any = None) -> Case:
    """退回: complete the step along its modelled send-back flow; the reason is signed as its opinion."""
    task = visible_task(uow.session, task_id, actor)
    _check(uow.session, task, actor, Action.SEND_BACK)
    if form_of(uow.session, task).send_back is None:
        raise Forbidden(f"step {task.element_id} has no send-back path in its process")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise Invalid("a send back needs a reason", [Problem("required", field="reason")])
    if len(reason) > 2000:
        raise Invalid("the reason is too long", [Problem("at most 2000 characters", field="reason")])
    if data is not None and not isinstance(data, dict):
        raise Invalid("the form data must be an object", [Problem("expected an object", field="data")])
    case = cases.complete(uow, task_id, dict(data or {}), actor, version, sent_back=reason)
    back_to = sorted({t.element_id for t in uow.session.scalars(
        select(Task).where(Task.case_id == case.id, Task.state == "open"))})
    events.record(uow, case.id, SENT_BACK, actor=actor.username, element_id=task.element_id, task_id=task_id,
                  data={"reason": reason, "to": back_to})
    return case


def _check_colleague(session: Session, task: Task, to_user: Any, actor: Actor) -> str:
    if not isinstance(to_user, str) or not to_user.strip():
        raise Invalid("name the colleague", [Problem("required", field="to")])
    to_user = to_user.strip()
    if to_user == actor.username:
        raise Invalid("you cannot hand a task to yourself", [Problem("another colleague", field="to")])
    if to_user not in identity.members_of(session, task.group):
        raise Invalid(f"{to_user} is not in group {task.group}",
                      [Problem(f"not a member of {task.group}", field="to")])
    return to_user


def delegate(uow: UnitOfWork, task_id: str, to_user: Any, actor: Actor, reason: str = "",
             version: int | None = None) -> Task:
    """Hand my task (or an open one of my group) to a colleague in the same group."""
    task = visible_task(uow.session, task_id, actor)
    _check(uow.session, task, actor, Action.DELEGATE)
    to_user = _check_colleague(uow.session, task, to_user, actor)
    return cases.assign(uow, task_id, actor, to_user, action=Action.DELEGATE, reason=reason or "",
                        expected_version=version)


def reassign(uow: UnitOfWork, task_id: str, to_user: Any, actor: Actor, reason: str = "",
             version: int | None = None) -> Task:
    """A supervisor of the task's group gives it to a member of that group, whoever holds it."""
    task = visible_task(uow.session, task_id, actor)
    _check(uow.session, task, actor, Action.REASSIGN)
    to_user = _check_colleague(uow.session, task, to_user, actor)
    return cases.assign(uow, task_id, actor, to_user, action=Action.REASSIGN, reason=reason or "",
                        expected_version=version)
