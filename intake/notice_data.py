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

from engine import cases, office, opinions, policy
from engine.errors import NotFound
from engine.models import Case, Opinion, Task, Timer, User
from engine.privacy import mask_id_number
from intake import catalog_store
from intake.acceptance import RESULTS, decided_result
from intake.dates import add_working_days
from intake.models import Application
from intake.notices import DECISION_TITLES, NOTICE_KINDS, NoticeContext, SignedOpinion


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


def deciding_opinion(session, case: Case) -> tuple[str, Opinion] | None:
    """The case's decision and the signed opinion that made it (its reasons), once decided."""
    result = decided_result(session, case.id)
    if result not in RESULTS:
        return None
    made = [o for o in opinions.of_case(session, case.id)
            if o.kind == opinions.COMPLETED and o.decision == result]
    return (result, made[-1]) if made else None


def issuance(session, application: Application) -> Task | None:
    """The completed issuance task (出件), if the result has been handed out."""
    return session.scalar(select(Task).where(
        Task.case_id == application.case_id, Task.group == policy.FRONT_DESK, Task.state == "completed",
        Task.element_id != application.intake_element).order_by(Task.completed_at.desc()).limit(1))


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
    if session.scalar(select(Opinion.id).where(Opinion.case_id == case.id).limit(1)) is not None:
        kinds.append("approval_form")
    if deciding_opinion(session, case) is not None:
        kinds.append("decision")
        if issuance(session, application) is not None:
            kinds.append("delivery_receipt")
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
                             due_provisional=dates.provisional, deemed=application.deemed_accepted_on is not None,
                             received_materials=[(m.code, names.get(m.code, m.name)) for m in application.materials])
    if kind in PAPERS:
        return PAPERS[kind](session, application, case, base)
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


def _approval_form(session, application: Application, case: Case, base: dict[str, Any]) -> NoticeContext:
    signed = opinions.of_case(session, case.id)
    lines = [SignedOpinion(o.step_name, o.decision_label, o.text, o.signer_name, o.signed_at,
                           o.kind == opinions.SENT_BACK) for o in signed]
    return NoticeContext(**base, issued_at=signed[-1].signed_at, opinions=lines,
                         accepted_on=due_dates(session, application, case).accepted_on,
                         legal_basis=application.item.data.get("legal_basis"))


def _decision(session, application: Application, case: Case, base: dict[str, Any]) -> NoticeContext:
    result, made = deciding_opinion(session, case)  # available() made sure there is one
    handed = issuance(session, application)
    certificate = (handed.data or {}).get("certificate_no") if handed is not None else None
    return NoticeContext(**base, issued_at=made.signed_at, decided_on=local_day(made.signed_at), result=result,
                         reason=made.text if result == "refused" else None, certificate_no=certificate or None,
                         accepted_on=due_dates(session, application, case).accepted_on,
                         legal_basis=application.item.data.get("legal_basis"))


def _delivery_receipt(session, application: Application, case: Case, base: dict[str, Any]) -> NoticeContext:
    result, _made = deciding_opinion(session, case)
    handed = issuance(session, application)
    data = handed.data or {}
    documents = [f"{DECISION_TITLES[result]}（申办流水号 {application.case_no}）"]
    if result == "approved" and data.get("certificate_no"):
        documents.append(f"{application.item.name}许可证件（编号 {data['certificate_no']}）")
    at = data.get("handed_over_at")
    delivered_at = datetime.fromisoformat(at) if at else handed.completed_at
    deliverer = session.scalar(select(User.display_name).where(User.username == handed.completed_by))
    return NoticeContext(**base, issued_at=delivered_at, delivery=data.get("delivery"),
                         tracking_no=data.get("tracking_no") or None, delivered_at=delivered_at,
                         deliverer=deliverer or handed.completed_by, documents=documents)


PAPERS = {"approval_form": _approval_form, "decision": _decision, "delivery_receipt": _delivery_receipt}
