"""My cases (我的办件): every application held under the signed-in applicant's number, online or at
the window, with what they need to know of each (件件有反馈): where it is, when it is due, the notices
they may download, what the office asks of them, and their rating once it has closed.

The caller (the pages) has already made sure the case is theirs (``intake.ownership``); nothing here
names a member of staff: the timeline says what happened, not who inside the office did it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from engine.models import Case, CaseEvent, Timer
from intake import catalog_store
from intake.feedback import GRADES
from intake.models import Applicant, Application, ApplicationMaterial, Rating
from intake.notice_data import available, deciding_opinion, decisions, due_dates, issuance, local_day
from intake.progress import progress

# The notices the applicant receives (the 审批表 and the 送达回证 stay with the office's file).
APPLICANT_NOTICES = ("receipt", "acceptance", "correction", "refusal", "decision")
NOTICE_LABELS = {"receipt": "收件凭证", "acceptance": "受理通知书", "correction": "补正材料通知书",
                 "refusal": "不予受理通知书", "decision": "行政许可决定书"}
CHANNELS = {"window": "窗口", "online": "网上", "mobile": "移动端"}
SOURCES = {"given": "提交", "paper": "纸质", "reused": "复用已有材料", "resubmitted": "补正提交"}


def applications_of(session, key: str) -> list[Application]:
    """The applications held under ``key`` (an ID number or a credit code), newest first."""
    return list(session.scalars(
        select(Application).join(Applicant, Applicant.id == Application.applicant_id)
        .where(Applicant.id_number == key).order_by(Application.received_at.desc(), Application.id.desc())))


def application_of(session, case_no: str) -> Application:
    return session.scalar(select(Application).where(Application.case_no == case_no))


@dataclass(frozen=True)
class Summary:
    case_no: str
    service_name: str
    channel: str
    received_on: date
    status: str
    status_label: str
    due_date: date | None
    due_provisional: bool
    waiting_for_me: bool  # a 补正 the office waits for
    to_rate: bool  # closed and not rated yet


def _rating(session, case_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.case_id == case_id))


def summary(session, application: Application) -> Summary:
    case = session.get(Case, application.case_id)
    p = progress(session, application, case)
    dates = due_dates(session, application, case)
    running = case.status == "running" and p.status not in ("not_accepted", "withdrawn", "cancelled")
    return Summary(application.case_no, application.item.name, CHANNELS.get(application.channel, application.channel),
                   application.received_on, p.status, p.label, dates.promised if running else None,
                   dates.provisional, p.status == "correction",
                   case.status == "completed" and _rating(session, case.id) is None)


@dataclass(frozen=True)
class Step:
    at: datetime
    label: str
    detail: str = ""


@dataclass(frozen=True)
class Correction:
    """What the office asks of the applicant: everything missing, in one notice (一次性告知)."""

    reason: str
    missing: tuple[str, ...]
    asked_at: datetime
    due_on: date | None


@dataclass(frozen=True)
class CaseView:
    summary: Summary
    department: str
    accepted_on: date | None
    statutory_due_date: date | None
    result: str | None
    timeline: list[Step]
    notices: list[tuple[str, str]]
    materials: list[dict[str, Any]]
    correction: Correction | None
    rating: dict[str, Any] | None
    ended_at: datetime | None = None
    stage: list[str] = field(default_factory=list)


def _timeline(session, application: Application, case: Case, names: dict[str, str]) -> list[Step]:
    steps: list[Step] = []
    last: list[Step] = []  # what ends the story, after the decisions made at the same instant
    kinds = ("application_received", "materials_resubmitted", "deemed_accepted", "special_procedure_started",
             "special_procedure_ended", "deadline_extended", "rated", "case_cancelled")
    for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(kinds))
                             .order_by(CaseEvent.id)):
        data = e.data or {}
        if e.kind == "application_received":
            steps.append(Step(e.at, f"已收件（{CHANNELS.get(data.get('channel'), '窗口')}）"))
        elif e.kind == "materials_resubmitted":
            steps.append(Step(e.at, "已提交补正材料", "、".join(names.get(c, c) for c in data.get("materials", []))))
        elif e.kind == "deemed_accepted":
            steps.append(Step(e.at, "已受理（逾期未作决定，依法视为受理）"))
        elif e.kind == "special_procedure_started":
            why = str(data.get("reason") or data.get("kind") or "")
            steps.append(Step(e.at, "特别程序开始（不计入办理时限）", why))
        elif e.kind == "special_procedure_ended":
            steps.append(Step(e.at, "特别程序结束"))
        elif e.kind == "deadline_extended":
            days = data.get("working_days", "")
            steps.append(Step(e.at, f"办理期限延长{days}个工作日", str(data.get("reason") or "")))
        elif e.kind == "rated":
            last.append(Step(e.at, "已评价", str(data.get("label") or "")))
        else:
            last.append(Step(e.at, "已撤销", str(data.get("reason") or "")))
    for d in decisions(session, application):
        if d.decision == "accept":
            steps.append(Step(d.at, "已受理"))
        elif d.decision == "reject":
            steps.append(Step(d.at, "不予受理", d.reason))
        else:
            missing = "、".join(names.get(c, c) for c in d.missing)
            detail = "；".join(x for x in (d.reason, missing and f"需补正：{missing}") if x)
            steps.append(Step(d.at, "需要补正材料", detail))
    decided = deciding_opinion(session, case)
    if decided is not None:
        result, made = decided
        steps.append(Step(made.signed_at, "准予许可" if result == "approved" else "不予许可",
                          made.text if result == "refused" else ""))
        handed = issuance(session, application)
        if handed is not None and handed.completed_at is not None:
            post = (handed.data or {}).get("delivery") == "post"
            steps.append(Step(handed.completed_at, "已邮寄送达" if post else "已在窗口出件"))
    return sorted(steps + last, key=lambda s: s.at)  # stable: at the same instant, the order above


def _correction(session, application: Application, case: Case, names: dict[str, str]) -> Correction | None:
    asked = [d for d in decisions(session, application) if d.decision == "correction"]
    if not asked:
        return None
    last = asked[-1]
    timer = session.scalar(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at).limit(1))
    return Correction(last.reason, tuple(names.get(c, c) for c in last.missing), last.at,
                      local_day(timer.due_at) if timer is not None else None)


def case_view(session, application: Application) -> CaseView:
    """Everything the applicant sees of one of their cases."""
    case = session.get(Case, application.case_id)
    head = summary(session, application)
    p = progress(session, application, case)
    dates = due_dates(session, application, case)
    names = catalog_store.material_names(application.item)
    kinds = set(available(session, application, case))
    rating = _rating(session, case.id)
    return CaseView(
        summary=head, department=application.item.department, accepted_on=dates.accepted_on,
        statutory_due_date=dates.statutory if head.due_date else None,
        result=p.result if p.status in ("completed", "decided") else None,
        timeline=_timeline(session, application, case, names),
        notices=[(k, NOTICE_LABELS[k]) for k in APPLICANT_NOTICES if k in kinds],
        materials=[{"id": m.id, "name": names.get(m.code, m.name), "source": SOURCES.get(m.source, m.source),
                    "filename": m.filename, "has_file": m.file_sha256 is not None} for m in application.materials],
        correction=_correction(session, application, case, names) if head.waiting_for_me else None,
        rating=({"label": GRADES[rating.grade][0], "comment": rating.comment, "at": rating.rated_at}
                if rating is not None else None),
        ended_at=case.ended_at, stage=p.stage)


def material_of(application: Application, material_id: int) -> ApplicationMaterial | None:
    """One material of the application, by id (None when it is not this application's)."""
    return next((m for m in application.materials if m.id == material_id), None)
