"""Read models for the API and the supervisors' pages: a case's clocks, at-risk lists, compliance."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select

from engine.cases import case_by_no
from engine.models import Case
from sla import clocks, runtime
from sla.models import CASE_STEP, Clock, SpecialProcedure


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def entry_dict(e: Any) -> dict[str, Any]:
    return {"kind": e.kind, "on": e.day.isoformat(), "reason": e.reason, "working_days": e.working_days,
            "approver": e.approver, "actor": e.actor, "at": e.at.isoformat()}


def clock_dict(c: Clock, entries: list[Any], today: date) -> dict[str, Any]:
    """A clock as stored, plus a live reading on ``today`` (used / remaining working days)."""
    rt = runtime.current
    live = clocks.compute(rt.calendar, rt.escalation, c, [clocks.to_entry(e) for e in entries], today)
    r = live.reading
    return {
        "step": c.step or None, "element_id": c.element_id, "group": c.group, "state": r.state.value,
        "budget": r.budget, "used": r.used, "remaining": r.remaining, "paused_working_days": r.paused_working_days,
        "due_date": _iso(r.due.date if r.due else None), "statutory_due_date": _iso(live.statutory_due),
        "statutory_budget": c.statutory_budget, "warn_date": _iso(live.warn_date), "provisional": r.provisional,
        "level": live.level, "calendar_version": rt.calendar.version, "paused_by": list(c.paused_by or []),
        "stored": {"due_date": _iso(c.due_date), "level": c.level, "calendar_version": c.calendar_version},
        "ledger": [entry_dict(e) for e in entries],
    }


def case_clock_view(session, case_no: str, today: date) -> dict[str, Any]:
    case = case_by_no(session, case_no)
    rows = list(session.scalars(select(Clock).where(Clock.case_id == case.id).order_by(Clock.id)))
    entries = clocks.ledger(session, [c.id for c in rows])
    case_rows = [c for c in rows if c.step == CASE_STEP]
    procs = session.scalars(select(SpecialProcedure).where(SpecialProcedure.case_id == case.id)
                            .order_by(SpecialProcedure.id))
    return {
        "case_no": case.case_no, "status": case.status, "today": today.isoformat(),
        "accepted_on": _iso(case.accepted_on), "due_date": _iso(case.due_date),
        "statutory_due_date": _iso(case.statutory_due_date), "due_provisional": case.due_provisional,
        "sla_level": case.sla_level,
        "case_clock": clock_dict(case_rows[0], entries[case_rows[0].id], today) if case_rows else None,
        "steps": [clock_dict(c, entries[c.id], today) for c in rows if c.step != CASE_STEP],
        "special_procedures": [
            {"id": p.id, "kind": p.kind, "reason": p.reason, "expected_working_days": p.expected_working_days,
             "started_on": p.started_on.isoformat(), "started_by": p.started_by, "ended_on": _iso(p.ended_on),
             "ended_by": p.ended_by} for p in procs],
    }


def at_risk(session, groups: set[str] | None) -> list[dict[str, Any]]:
    """Open clocks at yellow or red, by department (None: every department)."""
    stmt = (select(Clock, Case.case_no, Case.subject).join(Case, Case.id == Clock.case_id)
            .where(Clock.state.in_(("running", "paused")), Clock.level.in_(("yellow", "red")))
            .order_by(Clock.group, Clock.level.desc(), Clock.due_date).limit(500))
    if groups is not None:
        stmt = stmt.where(Clock.group.in_(groups))
    from engine.privacy import mask_text

    return [{"group": c.group, "case_no": no, "step": c.element_id or "办件", "level": c.level,
             "due_date": _iso(c.due_date), "state": c.state, "subject": mask_text(subject or "")}
            for c, no, subject in session.execute(stmt)]


def compliance(session, groups: set[str] | None) -> list[dict[str, Any]]:
    """Share of case clocks stopped within the promised limit, per department, service and month."""
    month = func.substr(func.cast(Clock.stopped_on, type_=Case.process_id.type), 1, 7)
    on_time = func.sum(sql_case((Clock.stopped_on <= Clock.due_date, 1), else_=0))
    stmt = (select(Clock.group, Clock.service_code, month.label("month"), func.count().label("closed"),
                   on_time.label("on_time"))
            .where(Clock.step == CASE_STEP, Clock.state == "stopped", Clock.stopped_on.is_not(None))
            .group_by(Clock.group, Clock.service_code, month).order_by(month, Clock.group, Clock.service_code))
    if groups is not None:
        stmt = stmt.where(Clock.group.in_(groups))
    return [{"group": g, "service": s, "month": m, "closed": n, "on_time": int(ok or 0),
             "share": round(int(ok or 0) / n, 3) if n else None} for g, s, m, n, ok in session.execute(stmt)]
