"""An application as the API and the pages show it, with personal data masked for anyone who does
not handle the case (engine.policy.may_see_personal)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine import cases, involvement, opinions, policy
from engine.identity import Actor
from engine.models import Case
from engine.privacy import mask_id_number, mask_phone
from intake import acceptance
from intake.models import Application, Override
from intake.notice_data import available, decisions, due_dates
from intake.progress import progress


def may_see_personal(session, actor: Actor | None, application: Application) -> bool:
    """The policy's answer for this application's case (ask through ``intake.personal.disclose``, which
    records the audit row)."""
    return policy.may_see_personal(actor, involvement.case_facts(session, application.case_id))


def applicant_dict(application: Application, whole: bool) -> dict[str, Any]:
    a = application.applicant
    return {"kind": a.kind, "name": a.name,
            "id_number": a.id_number if whole else mask_id_number(a.id_number),
            "phone": a.phone if whole else mask_phone(a.phone)}


def application_view(session, application: Application, *, whole: bool) -> dict[str, Any]:
    """The application; ``whole`` (from ``intake.personal.disclose``) shows the ID and phone whole."""
    case = session.get(Case, application.case_id)
    p = progress(session, application, case)
    dates = due_dates(session, application, case)
    intake_task = acceptance.intake_task(session, application)
    issuance_task = acceptance.issuance_task(session, application)
    overrides = session.scalars(select(Override).where(Override.application_id == application.id))
    return {
        "case_no": application.case_no, "service_code": application.service_code,
        "service_name": application.item.name, "catalog_version": application.item.version,
        "department": application.item.department, "channel": application.channel,
        "applicant": applicant_dict(application, whole),
        "received_at": application.received_at.isoformat(), "received_on": application.received_on.isoformat(),
        "status": p.status, "status_label": p.label, "stage": p.stage, "result": p.result,
        "case_status": case.status,
        "accepted_on": dates.accepted_on.isoformat() if dates.accepted_on else None,
        "deemed_accepted_on": (application.deemed_accepted_on.isoformat()
                               if application.deemed_accepted_on else None),
        "due_date": dates.promised.isoformat() if dates.promised else None,
        "statutory_due_date": dates.statutory.isoformat() if dates.statutory else None,
        "due_provisional": dates.provisional, "due_projected": dates.projected,
        "materials": [{"code": m.code, "name": m.name, "source": m.source, "filename": m.filename,
                       "sha256": m.file_sha256, "size": m.file.size if m.file else None,
                       "content_type": m.file.content_type if m.file else None,
                       "provided_at": m.provided_at.isoformat()} for m in application.materials],
        "decisions": [{"decision": d.decision, "reason": d.reason, "missing": list(d.missing),
                       "redirect_office": d.redirect_office, "at": d.at.isoformat(), "by": d.by}
                      for d in decisions(session, application)],
        "overrides": [{"field": o.field, "reason": o.reason, "officer": o.officer, "at": o.at.isoformat()}
                      for o in overrides],
        "intake_task": cases.task_dict(intake_task) if intake_task else None,
        "issuance_task": cases.task_dict(issuance_task) if issuance_task else None,
        "notices": available(session, application, case),
        "opinions": [opinions.as_dict(o) for o in opinions.of_case(session, case.id)],
    }


def recent(session, limit: int = 30) -> list[Application]:
    return list(session.scalars(select(Application).order_by(Application.received_at.desc(),
                                                             Application.id.desc()).limit(limit)))
