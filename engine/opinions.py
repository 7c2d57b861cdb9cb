"""Opinions (审批意见) as records: each level's signed opinion with signer, group and time.

A row is appended when a step that declares an opinion field completes, and when it is sent back (退回,
the reason is the text); nothing here updates or deletes one (the database refuses both). Later
steps, the case page, the history and the 审批表 read them in signing order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import policy
from engine.db import UnitOfWork
from engine.forms import StepForm
from engine.identity import Actor
from engine.models import Case, Opinion, Task

COMPLETED = "completed"
SENT_BACK = "sent_back"
TEXT_MAX = 4000


def role_of(actor: Actor, group: str) -> str:
    """In what capacity the actor signed for ``group``: its member, its supervisor, an administrator."""
    if group in actor.groups:
        return "member"
    if policy.supervises(actor, group):
        return "supervisor"
    return "administrator" if policy.is_admin(actor) else "other"


def append(uow: UnitOfWork, case: Case, task: Task, actor: Actor, *, text: str, decision: Any,
           decision_label: str, kind: str, at: datetime) -> Opinion:
    """Record one signed opinion of ``task`` (inside the caller's unit of work)."""
    row = Opinion(
        case_id=case.id, task_id=task.id, element_id=task.element_id, step_name=task.name, kind=kind,
        text=(text or "").strip()[:TEXT_MAX], decision=None if decision is None else str(decision)[:64],
        decision_label=(decision_label or "")[:128], signer=actor.username,
        signer_name=(actor.display_name or actor.username)[:128], signer_group=task.group,
        signer_role=role_of(actor, task.group), signed_at=at,
    )
    uow.session.add(row)
    return row


def sign(uow: UnitOfWork, case: Case, task: Task, actor: Actor, form: StepForm, data: dict[str, Any], *,
         sent_back: str | None, at: datetime) -> dict[str, Any]:
    """Append the step's opinion if it signs one (its form declares an opinion field, or it is sent
    back); returns what the history event says of it."""
    if sent_back is None and form.opinion_field is None:
        return {}
    field = form.send_back[0] if sent_back is not None and form.send_back else form.decision_field
    decision = data.get(field) if field else None
    back = form.send_back is not None and data.get(form.send_back[0]) == form.send_back[1]
    text = sent_back if sent_back is not None else data.get(form.opinion_field or "")
    text = text.strip() if isinstance(text, str) else ""
    label = form.title(field, decision)
    append(uow, case, task, actor, text=text, decision=decision, decision_label=label,
           kind=SENT_BACK if back else COMPLETED, at=at)
    return {"opinion": {"text": text, "decision": decision, "decision_label": label}}


def of_case(session: Session, case_id: int) -> list[Opinion]:
    """Every opinion of the case, in signing order (the 审批表)."""
    return list(session.scalars(select(Opinion).where(Opinion.case_id == case_id)
                                .order_by(Opinion.signed_at, Opinion.id)))


def before(session: Session, task: Task) -> list[Opinion]:
    """The opinions a step's worker reads: every one signed in the case before the step was done,
    other than the step's own."""
    stmt = select(Opinion).where(Opinion.case_id == task.case_id, Opinion.task_id != task.id)
    if task.completed_at is not None:
        stmt = stmt.where(Opinion.signed_at <= task.completed_at)
    return list(session.scalars(stmt.order_by(Opinion.signed_at, Opinion.id)))


def as_dict(o: Opinion) -> dict[str, Any]:
    return {
        "task_id": o.task_id, "step": o.element_id, "step_name": o.step_name, "kind": o.kind,
        "text": o.text, "decision": o.decision, "decision_label": o.decision_label,
        "signer": o.signer, "signer_name": o.signer_name, "signer_group": o.signer_group,
        "signer_role": o.signer_role, "signed_at": o.signed_at.isoformat(),
    }
