"""Whose case is this: the fact ``engine.policy.applicant_owns`` judges for a signed-in applicant.

A case belongs to the number it was applied under (一号申请: the person's citizen ID number or the
organisation's credit code), online or at the window alike. The engine knows nothing of applicants,
so the rule guarding an applicant's case routes is declared here, where that fact is read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine import policy
from engine.access import Rule
from engine.applicants import OnlineApplicant
from engine.errors import NotFound
from engine.web import reading, record_refusal
from intake.models import Applicant, Application


def holder_of_case(session, case_no: str) -> str | None:
    """The key number the case was applied under; None for no such case."""
    return session.scalar(select(Applicant.id_number).join(Application, Application.applicant_id == Applicant.id)
                          .where(Application.case_no == case_no))


def _owns_case(applicant: OnlineApplicant | None, args: dict[str, Any]) -> None:
    case_no = str(args.get("case_no", ""))
    with reading() as s:
        holder = holder_of_case(s, case_no)
    if not policy.applicant_owns(applicant, holder):
        record_refusal("not the applicant's case (answered 404)", case_no=case_no)
        raise NotFound(f"没有找到办件 {case_no} / no case {case_no}")


OWN_CASE = Rule("the applicant's own case", applicant=True, checks=(_owns_case,))
