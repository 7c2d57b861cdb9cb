"""Cases flagged for an administrator, and clearing a flag once someone has looked.

``engine.cases._save`` flags a case once (``Case.flagged`` holds the reason, a ``case_flagged`` event
records it) when its stored state grows past the configured size or depth, or when SpiffWorkflow
calls a workflow complete that still has a ready task (docs/long_lived.md); ``engine.cases`` also
flags it when a script hits its limits (the step is refused, the flag is written apart). A flagged
case keeps running. Administrators list the flagged cases here and clear a flag with a note saying what they
did; the clearing is in the case history. A case still over its limits is flagged again at its next
step, so a cleared flag means "looked at and fixed", not "ignored".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import cases, clock, events, policy, store
from engine.db import UnitOfWork
from engine.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from engine.identity import Actor
from engine.models import Case, CaseEvent

FLAG_CLEARED = "case_flag_cleared"
NOTE_MAX = 500


def flagged_cases(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Flagged cases, oldest flag first: case number, process, status, reason and when it was flagged."""
    flagged_at = (select(CaseEvent.case_id, func.max(CaseEvent.at).label("at"))
                  .where(CaseEvent.kind == "case_flagged").group_by(CaseEvent.case_id).subquery())
    rows = session.execute(
        select(Case.case_no, Case.process_id, Case.status, Case.flagged, Case.updated_at, flagged_at.c.at)
        .outerjoin(flagged_at, flagged_at.c.case_id == Case.id)
        .where(Case.flagged.is_not(None))
        .order_by(flagged_at.c.at, Case.id)
        .limit(limit)
    )
    return [{"case_no": no, "process_id": process_id, "status": status, "reason": reason,
             "flagged_at": at.isoformat() if at else None, "updated_at": updated.isoformat()}
            for no, process_id, status, reason, updated, at in rows]


def clear_flag(uow: UnitOfWork, case_no: str, actor: Actor, note: Any) -> Case:
    """Clear a case's flag (administrators), with a note of what was done; recorded in its history.

    Raises Forbidden (not an administrator), Invalid (no note, or one too long), NotFound, or
    Conflict when the case is not flagged (someone cleared it first).
    """
    if not policy.may_administer(actor):
        raise Forbidden("only administrators clear a case's flag")
    note = note.strip() if isinstance(note, str) else ""
    if not note or len(note) > NOTE_MAX:
        raise Invalid("say what was done about the flag",
                      [Problem(f"a note of 1 to {NOTE_MAX} characters", field="note")])
    case = store.lock_case(uow, cases.case_by_no(uow.session, case_no).id)
    if case is None:  # deleted meanwhile
        raise NotFound(f"no case {case_no}")
    if not case.flagged:
        raise Conflict(f"case {case_no} is not flagged")
    reason, case.flagged, case.updated_at = case.flagged, None, clock.now()
    events.record(uow, case.id, FLAG_CLEARED, actor=actor.username, data={"reason": reason, "note": note})
    uow.session.flush()
    return case
