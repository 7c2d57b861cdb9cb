"""Where a case stands, in the words a status board and the applicant use (件件有反馈)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine import events
from engine.models import Case, CaseEvent
from intake.acceptance import decided_result, intake_task, issuance_task
from intake.models import Application
from intake.notice_data import decisions, due_dates, open_stage

LABELS = {
    "received": "已收件，待受理",
    "correction": "待补正材料",
    "accepted": "已受理，办理中",
    "decided": "已办结，待出件",
    "completed": "已办结",
    "not_accepted": "不予受理",
    "withdrawn": "已撤回",
    "cancelled": "已撤销",
}


@dataclass(frozen=True)
class Progress:
    status: str
    label: str
    stage: list[str]
    result: str | None


def progress(session, application: Application, case: Case) -> Progress:
    result = decided_result(session, case.id)
    made = decisions(session, application)
    last = made[-1].decision if made else None
    if case.status == "cancelled":
        status = "cancelled"
    elif case.status == "completed":
        ended = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                       CaseEvent.kind == events.CASE_ENDED)
                               .order_by(CaseEvent.id.desc()).limit(1))
        end = (ended.data or {}).get("end") if ended is not None else None
        if last == "reject":
            status = "not_accepted"
        elif end == "withdrawn" or last == "correction":
            status = "withdrawn"
        else:
            status = "completed"
    elif intake_task(session, application) is not None:
        status = "accepted" if application.deemed_accepted_on else "received"
    elif issuance_task(session, application) is not None:
        status = "decided"
    elif last == "correction":
        status = "correction"
    else:
        status = "accepted"
    label = LABELS[status]
    if status in ("completed", "decided") and result:
        label += "（准予许可）" if result == "approved" else "（不予许可）"
    stage = [] if case.status != "running" else open_stage(session, case)
    return Progress(status, label, stage, result)


def public_view(session, application: Application, case: Case) -> dict:
    """What anyone holding the case number and the key's last four characters may see: nothing
    personal (no name, no number, no phone)."""
    p = progress(session, application, case)
    dates = due_dates(session, application, case)
    return {
        "case_no": application.case_no, "service_code": application.service_code,
        "service_name": application.item.name, "status": p.status, "status_label": p.label,
        "stage": p.stage, "result": p.result if p.status in ("completed", "decided") else None,
        "received_on": application.received_on.isoformat(),
        "accepted_on": dates.accepted_on.isoformat() if dates.accepted_on else None,
        "promised_date": dates.promised.isoformat() if dates.promised and p.status not in (
            "not_accepted", "withdrawn", "cancelled") else None,
        "promised_date_provisional": dates.provisional,
        "ended_at": case.ended_at.isoformat() if case.ended_at else None,
        "closed": case.status != "running",
    }
