"""Showing an applicant's ID and phone number whole: who may, and the audit row that goes with it.

Every view that shows them whole (the case page, the application API, a full notice) takes its
``whole`` from :func:`disclose`, and the ID-number lookup of earlier applications calls
:func:`looked_up`; both record the row in the request's unit of work (``engine.web.audited``), so a
view is never shown whole without its row, and a row that cannot be written means no view.
"""

from __future__ import annotations

from engine import audit
from engine.db import UnitOfWork
from engine.identity import Actor
from intake.models import Applicant, Application
from intake.views import may_see_personal


def subject_ref(applicant: Applicant) -> str:
    return f"applicant:{applicant.id}"


def disclose(uow: UnitOfWork, actor: Actor, application: Application, purpose: audit.Purpose,
             client: str | None, detail: str = "") -> bool:
    """Whether ``actor`` sees the applicant's data whole here; when yes, the audit row is recorded."""
    if not may_see_personal(uow.session, actor, application):
        return False
    applicant = application.applicant
    audit.personal_data_shown(uow.session, actor, purpose=purpose, id_number=applicant.id_number,
                              subject_ref=subject_ref(applicant), case_no=application.case_no,
                              client=client, detail=detail)
    return True


def looked_up(uow: UnitOfWork, actor: Actor, applicant: Applicant, client: str | None, detail: str) -> None:
    """Record that ``actor`` looked an applicant up by ID number (what they have on file is shown)."""
    audit.personal_data_shown(uow.session, actor, purpose=audit.Purpose.ID_LOOKUP,
                              id_number=applicant.id_number, subject_ref=subject_ref(applicant),
                              case_no=None, client=client, detail=detail)
