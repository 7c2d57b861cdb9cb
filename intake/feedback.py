"""The applicant's side without a login: the progress query and the rating (好差评).

Both need the case number and the last four characters of the applicant's number; a wrong pair is
indistinguishable from a missing case (404), and a client that guesses is slowed by a per-IP window
(``intake.ratelimit``).
A bad rating (不满意, 非常不满意) starts the ``bad_review_followup`` process (as the system: the process names
no starters, so nobody starts it through the API), whose one task goes to the department that owns the
item; its supervisors see it in their queue. The follow-up case carries what its handler needs (the
grade, the comment, the rated case, whom to call back, the phone masked: the whole number is shown by
:func:`contact` to those the policy lets see it, audited) and its own clock: the office's
``followup_working_days`` (15 by default) from the rating, as its promised limit.
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select

from engine import cases, clock, events
from engine.audit import Purpose
from engine.db import UnitOfWork
from engine.errors import Conflict, Invalid, NotFound, Problem
from engine.identity import SYSTEM, Actor
from engine.models import Case
from engine.privacy import mask_phone
from intake import personal
from intake.models import Application, Rating

GRADES = {
    # code: (label, bad)
    "very_satisfied": ("非常满意", False),
    "satisfied": ("满意", False),
    "basically_satisfied": ("基本满意", False),
    "dissatisfied": ("不满意", True),
    "very_dissatisfied": ("非常不满意", True),
}
_BY_LABEL = {label: code for code, (label, _bad) in GRADES.items()}
FOLLOWUP_PROCESS = "bad_review_followup"
COMMENT_MAX = 1000


def find(session, case_no: str, id_tail: str | None) -> tuple[Application, Case]:
    """The application whose applicant number ends with ``id_tail``. Raises NotFound otherwise."""
    tail = (id_tail or "").strip().upper()
    application = session.scalar(select(Application).where(Application.case_no == case_no))
    expected = application.applicant.id_number[-4:] if application is not None else "\0\0\0\0"
    if len(tail) != 4 or not hmac.compare_digest(tail.encode(), expected.encode()) or application is None:
        raise NotFound("没有找到该办件 / no such case for this number")
    return application, session.get(Case, application.case_id)


def grade_code(value: Any) -> str:
    if isinstance(value, str):
        value = value.strip()
        if value in GRADES:
            return value
        if value in _BY_LABEL:
            return _BY_LABEL[value]
    raise Invalid("unknown grade", [Problem(
        "评价等级应为 非常满意、满意、基本满意、不满意、非常不满意 之一 / one of "
        + ", ".join(GRADES), field="grade")])


def rate(uow: UnitOfWork, case_no: str, id_tail: str | None, grade: Any, comment: Any, *,
         followup_working_days: int) -> dict[str, Any]:
    """Record the rating of a closed case by whoever holds its number and the key's last four
    characters; a bad one opens a follow-up case due in ``followup_working_days`` working days."""
    code, text = _checked(grade, comment)
    application, _case = find(uow.session, case_no, id_tail)
    return _record(uow, application, code, text, "applicant", followup_working_days)


def rate_own(uow: UnitOfWork, application: Application, grade: Any, comment: Any, by: str, *,
             followup_working_days: int) -> dict[str, Any]:
    """Record the rating of a closed case by its signed-in applicant (``by``: how the history names
    them); the caller has made sure the case is theirs. Same rules: once, and only once closed."""
    code, text = _checked(grade, comment)
    return _record(uow, application, code, text, by, followup_working_days)


def _checked(grade: Any, comment: Any) -> tuple[str, str | None]:
    code = grade_code(grade)
    if comment is not None and not isinstance(comment, str):
        raise Invalid("comment must be text", [Problem("text expected", field="comment")])
    return code, (comment or "").strip()[:COMMENT_MAX] or None


def _record(uow: UnitOfWork, application: Application, code: str, text: str | None, by: str,
            followup_working_days: int) -> dict[str, Any]:
    case_no = application.case_no
    case = cases.open_case(uow, case_no).case  # lock: one rating per case, even when two arrive
    if case.status != "completed":
        raise Conflict("办结后方可评价 / a case can be rated once it is closed")
    if uow.session.scalar(select(Rating).where(Rating.case_id == case.id)) is not None:
        raise Conflict("该办件已评价 / this case has already been rated")
    label, bad = GRADES[code]
    rating = Rating(case_id=case.id, grade=code, bad=bad, comment=text, rated_at=clock.now())
    uow.session.add(rating)
    if bad:
        department = application.item.department
        # no service code of its own: a follow-up is not an application for the rated item, and is not
        # counted among that item's cases
        followup = cases.start_case(uow, FOLLOWUP_PROCESS, {
            "department": department, "rated_case_no": case_no, "service_code": application.service_code,
            "service_name": application.item.name, "grade": code, "grade_label": label,
            "comment": text or "", "contact_name": application.applicant.name,
            "contact_phone": mask_phone(application.applicant.phone),
        }, SYSTEM, subject=f"差评回访 {case_no}", meta={"promised_working_days": followup_working_days})
        rating.followup_case_no = followup.case_no
    events.record(uow, case.id, "rated", actor=by,
                  data={"grade": code, "label": label, "bad": bad, "followup_case_no": rating.followup_case_no})
    uow.session.flush()
    return {"case_no": case_no, "grade": code, "label": label, "bad": bad,
            "followup_case_no": rating.followup_case_no}


def contact(uow: UnitOfWork, followup_case_no: str, actor: Actor, client: str | None) -> dict[str, Any]:
    """Whom a follow-up calls back: the rated case's applicant, the phone whole when the policy lets the
    actor see it (the audit row is written here), masked otherwise. Raises NotFound."""
    rating = uow.session.scalar(select(Rating).where(Rating.followup_case_no == followup_case_no))
    if rating is None:
        raise NotFound(f"{followup_case_no} is not the follow-up of a rating")
    application = uow.session.scalar(select(Application).where(Application.case_id == rating.case_id))
    whole = personal.disclose(uow, actor, application, Purpose.CASE_HANDLING, client,
                              detail=f"差评回访 {followup_case_no}")
    phone = application.applicant.phone
    return {"followup_case_no": followup_case_no, "rated_case_no": application.case_no,
            "name": application.applicant.name, "phone": phone if whole else mask_phone(phone), "whole": whole,
            "grade_label": GRADES[rating.grade][0], "comment": rating.comment or ""}
