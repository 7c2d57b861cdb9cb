"""What a case's notices print, gathered from the application, the task rows and the case.

The promised completion date is the case's ``due_date`` (kept by the SLA package from its clock);
until the SLA has set it, it is projected from the acceptance day plus the item's promised working
days through the working-day port and marked provisional when the calendar says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from engine import cases, office
from engine.errors import NotFound
from engine.models import Case, Task, Timer
from engine.privacy import mask_id_number
from intake import catalog_store
from intake.dates import add_working_days
from intake.models import Application
from intake.notices import NOTICE_KINDS, NoticeContext


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str
    missing: tuple[str, ...]
    redirect_office: str | None
    at: datetime
    by: str | None


def decisions(session, application: Application) -> list[Decision]:
    """Every completed intake decision of the case, oldest first."""
    rows = session.scalars(select(Task).where(
        Task.case_id == application.case_id, Task.element_id == application.intake_element,
        Task.state == "completed").order_by(Task.completed_at, Task.id))
    out = []
    for t in rows:
        data = t.data or {}
        if data.get("decision") in ("accept", "reject", "correction") and t.completed_at is not None:
            out.append(Decision(data["decision"], str(data.get("reason") or ""), tuple(data.get("missing") or ()),
                                data.get("redirect_office"), t.completed_at, t.completed_by))
    return out


def local_day(instant: datetime) -> date:
    return instant.astimezone(office.zone).date()


@dataclass(frozen=True)
class DueDates:
    accepted_on: date | None
    promised: date | None
    statutory: date | None
    provisional: bool
    projected: bool


def due_dates(session, application: Application, case: Case) -> DueDates:
    """Acceptance day and due dates: the SLA's when it has set them, else a projection."""
    accepted_on = case.accepted_on or application.deemed_accepted_on
    if accepted_on is None:
        accepts = [d for d in decisions(session, application) if d.decision == "accept"]
        if accepts:
            accepted_on = local_day(accepts[-1].at)
    if case.due_date is not None:
        return DueDates(accepted_on, case.due_date, case.statutory_due_date, case.due_provisional, False)
    start = accepted_on or application.intake_since
    item = application.item.data
    promised, p1 = add_working_days(start, int(item["promised_working_days"]))
    statutory, p2 = add_working_days(start, int(item["statutory_working_days"]))
    return DueDates(accepted_on, promised, statutory, p1 or p2, True)


def available(session, application: Application, case: Case) -> list[str]:
    """The notice kinds this case has (a receipt always; the others once decided that way)."""
    kinds = ["receipt"]
    made = {d.decision for d in decisions(session, application)}
    if "accept" in made or application.deemed_accepted_on or case.accepted_on:
        kinds.append("acceptance")
    if "reject" in made:
        kinds.append("refusal")
    if "correction" in made:
        kinds.append("correction")
    return [k for k in NOTICE_KINDS if k in kinds]


def context(session, application: Application, kind: str, office_name: str, *,
            whole_id: bool = False) -> NoticeContext:
    """The NoticeContext for one kind. Raises NotFound for a kind the case does not have (yet)."""
    case = session.get(Case, application.case_id)
    if kind not in NOTICE_KINDS:
        raise NotFound(f"no notice of kind {kind!r}; known: {', '.join(NOTICE_KINDS)}")
    if kind not in available(session, application, case):
        raise NotFound(f"case {application.case_no} has no {kind} notice (yet)")
    names = catalog_store.material_names(application.item)
    applicant = application.applicant
    base: dict[str, Any] = dict(
        office_name=office_name, case_no=application.case_no, applicant_name=applicant.name,
        applicant_id=applicant.id_number if whole_id else mask_id_number(applicant.id_number),
        service_name=application.item.name, service_code=application.service_code,
        received_on=application.received_on,
    )
    made = decisions(session, application)
    if kind == "receipt":
        first = [m for m in application.materials if m.source != "resubmitted"]
        have = {m.code for m in first}
        missing = [(m["code"], m["name"]) for m in application.item.data["materials"]
                   if m["required"] and m["code"] not in have]
        dates = due_dates(session, application, case)
        return NoticeContext(**base, issued_at=application.received_at,
                             received_materials=[(m.code, names.get(m.code, m.name)) for m in first],
                             missing_materials=missing, promised_due_date=dates.promised,
                             due_provisional=dates.provisional)
    if kind == "acceptance":
        dates = due_dates(session, application, case)
        accepts = [d for d in made if d.decision == "accept"]
        issued = accepts[-1].at if accepts else application.received_at
        return NoticeContext(**base, issued_at=issued, accepted_on=dates.accepted_on,
                             promised_due_date=dates.promised, statutory_due_date=dates.statutory,
                             due_provisional=dates.provisional,
                             received_materials=[(m.code, names.get(m.code, m.name)) for m in application.materials])
    if kind == "refusal":
        refusal = [d for d in made if d.decision == "reject"][-1]
        return NoticeContext(**base, issued_at=refusal.at, decided_on=local_day(refusal.at),
                             reason=refusal.reason, redirect_office=refusal.redirect_office)
    correction = [d for d in made if d.decision == "correction"][-1]
    timer = session.scalar(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at).limit(1))
    return NoticeContext(**base, issued_at=correction.at, reason=correction.reason,
                         missing_materials=[(c, names.get(c, c)) for c in correction.missing],
                         correction_due_date=local_day(timer.due_at) if timer is not None else None)


def open_stage(session, case: Case) -> list[str]:
    """Names of what the case is doing now: its open tasks, or what it waits for."""
    names = [t.name for t in session.scalars(select(Task).where(
        Task.case_id == case.id, Task.state.in_(cases.OPEN_STATES)).order_by(Task.created_at, Task.id))]
    if names:
        return names
    waiting = sorted(set((case.summary or {}).get("waiting", {}).values()))
    return [WAITING_NAMES.get(w, w) for w in waiting]


WAITING_NAMES = {"await_correction": "等待申请人补正材料", "await_supplement": "等待申请人补充材料"}
