"""Task list queries: inbox (mine), queue (my groups', unclaimed), archive (I finished), team."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Invalid, Problem
from engine.identity import Actor
from engine.models import Task

VIEWS = ("inbox", "queue", "archive", "team")


def task_list(session: Session, actor: Actor, view: str, limit: int = 50) -> list[Task]:
    if view not in VIEWS:
        raise Invalid("unknown view", [Problem(f"one of {', '.join(VIEWS)}", field="view")])
    stmt = select(Task)
    if view == "inbox":
        stmt = stmt.where(Task.assignee == actor.username, Task.state == "claimed")
    elif view == "queue":
        stmt = stmt.where(Task.group.in_(sorted(actor.visible_groups)), Task.state == "open")
    elif view == "team":
        stmt = stmt.where(Task.group.in_(sorted(actor.supervises)), Task.state.in_(("open", "claimed")))
    else:
        stmt = stmt.where(Task.completed_by == actor.username, Task.state == "completed")
        return list(session.scalars(stmt.order_by(Task.completed_at.desc(), Task.id).limit(limit)))
    stmt = stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id).limit(limit)
    return list(session.scalars(stmt))
