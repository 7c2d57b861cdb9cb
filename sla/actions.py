"""What people do to a case clock: special procedures (pause / resume) and extensions.

Each action locks the case clock, appends to its ledger, recomputes, and records the case history.
"""

from __future__ import annotations

from typing import Any

from engine import events, policy
from engine.cases import case_by_no
from engine.db import UnitOfWork
from engine.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from engine.identity import Actor
from sla import clocks, runtime
from sla.ledger import Extended, check_extension
from sla.models import Clock, SpecialProcedure
from sla.subscribers import hold, release

MAX_WORKING_DAYS = 365  # more than a year is a mistake, and would run past the calendar's data anyway


def _whole(value: Any, field: str, *, required: bool, problems: list[Problem]) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_WORKING_DAYS:
        problems.append(Problem(f"a whole number of working days, 1 to {MAX_WORKING_DAYS}", field=field))
        return None
    return value


def _text(value: Any, field: str, problems: list[Problem], limit: int = 500) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem("required", field=field))
        return ""
    if len(value) > limit:
        problems.append(Problem(f"at most {limit} characters", field=field))
    return value.strip()


def _running_clock(uow: UnitOfWork, case_no: str) -> tuple[Any, Clock]:
    case = case_by_no(uow.session, case_no)
    clock = clocks.case_clock(uow, case.id)
    return case, clock


def _may_act(actor: Actor, clock: Clock) -> None:
    if not policy.may_pause_clock(actor, clock.group):
        raise Forbidden(f"only the department handling the case ({clock.group}) may do this")


def start_special_procedure(uow: UnitOfWork, case_no: str, body: dict[str, Any], actor: Actor) -> SpecialProcedure:
    """Pause the case clock for a special procedure (听证, 检验, 检测, 鉴定, 专家评审 ...)."""
    case, clock = _running_clock(uow, case_no)
    _may_act(actor, clock)  # who may, before what they sent: 403 comes before 422
    problems: list[Problem] = []
    kind = _text(body.get("kind"), "kind", problems, 64)
    reason = _text(body.get("reason"), "reason", problems)
    expected = _whole(body.get("expected_working_days"), "expected_working_days", required=False, problems=problems)
    if problems:
        raise Invalid("invalid special procedure", problems)
    if clock.state not in ("running", "paused"):
        raise Conflict(f"the case clock is {clock.state.replace('_', ' ')}")
    today = clocks.today()
    proc = SpecialProcedure(case_id=case.id, kind=kind, reason=reason, expected_working_days=expected,
                            started_on=today, started_by=actor.username)
    uow.session.add(proc)
    uow.session.flush()
    hold(uow, clock, f"special:{proc.id}", f"特别程序 {kind}: {reason}", today, actor.username)
    clocks.send_after_commit(uow, clocks.apply(uow, [clock], today))
    events.record(uow, case.id, "special_procedure_started", actor=actor.username,
                  data={"id": proc.id, "kind": kind, "reason": reason, "expected_working_days": expected})
    return proc


def end_special_procedure(uow: UnitOfWork, case_no: str, procedure_id: int, actor: Actor) -> SpecialProcedure:
    case, clock = _running_clock(uow, case_no)
    _may_act(actor, clock)
    proc = uow.session.get(SpecialProcedure, procedure_id)
    if proc is None or proc.case_id != case.id:
        raise NotFound(f"no special procedure {procedure_id} on case {case_no}")
    if proc.ended_on is not None:
        raise Conflict(f"the special procedure ended on {proc.ended_on}")
    today = clocks.today()
    proc.ended_on, proc.ended_by = today, actor.username
    release(uow, clock, f"special:{proc.id}", today, actor.username)
    clocks.send_after_commit(uow, clocks.apply(uow, [clock], today))
    events.record(uow, case.id, "special_procedure_ended", actor=actor.username,
                  data={"id": proc.id, "kind": proc.kind})
    return proc


def extend(uow: UnitOfWork, case_no: str, body: dict[str, Any], actor: Actor) -> Clock:
    """Extend the case clock: the department's supervisor only, and only by the due date."""
    case, clock = _running_clock(uow, case_no)
    if not policy.may_extend(actor, clock.group):
        raise Forbidden(f"only a supervisor of {clock.group} may extend this case's time limit")
    problems: list[Problem] = []
    days = _whole(body.get("working_days"), "working_days", required=True, problems=problems)
    reason = _text(body.get("reason"), "reason", problems)
    if problems:
        raise Invalid("invalid extension", problems)
    if clock.state not in ("running", "paused"):
        raise Conflict(f"the case clock is {clock.state.replace('_', ' ')}")
    today = clocks.today()
    rt = runtime.current
    entries = [clocks.to_entry(e) for e in clocks.ledger(uow.session, [clock.id])[clock.id]]
    extension = Extended(today, days or 0, reason, actor.username)
    try:
        check_extension(rt.calendar, clock.budget, entries, extension, provisional=True)
    except Invalid as exc:
        raise Conflict(str(exc)) from None
    clocks.append(uow, clock, extension, actor.username)
    clocks.send_after_commit(uow, clocks.apply(uow, [clock], today))
    events.record(uow, case.id, "deadline_extended", actor=actor.username,
                  data={"working_days": days, "reason": reason,
                        "due_date": clock.due_date.isoformat() if clock.due_date else None})
    return clock

