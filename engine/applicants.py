"""The signed-in applicant (统一身份认证): a principal of its own, never a staff user.

An applicant signs in through the province's identity service (intake's OIDC client checks what it
vouches for) and then acts as themselves, under their citizen ID number, or, as the legal
representative or agent of an organisation the service vouches for, under its unified social credit
code (一号申请: that number is the key of their cases, files and certificates). What they may see is
``engine.policy.applicant_owns``; they never get an :class:`engine.identity.Actor`, so no staff rule
ever lets them through.

Their page session is a row here (``applicant_sessions``) found by the digest of the cookie's token,
so signing out or an idle time-out ends it on the server, as for staff (``engine.web``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden
from engine.models import ApplicantSession
from engine.privacy import mask_id_number, mask_phone

SESSION_LIFETIME = timedelta(hours=12)  # at most, whatever the activity; the idle time-out comes first
PERSON = "person"
ORGANIZATION = "organization"
ROLES = {"legal_representative": "法定代表人", "agent": "经办人"}


@dataclass(frozen=True)
class Organization:
    """An organisation the identity service vouches the person may act for."""

    code: str  # unified social credit code, checked (GB 32100)
    name: str
    role: str = "agent"  # legal_representative | agent

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


@dataclass(frozen=True)
class OnlineApplicant:
    """Who is signed in, as the identity service vouched for them, and under which number they act."""

    issuer: str
    subject: str
    id_number: str
    name: str
    phone: str = ""
    organizations: tuple[Organization, ...] = ()
    acting_for: str | None = None

    @property
    def key(self) -> str:
        """The number whose cases, files and certificates are theirs now (一号申请)."""
        return self.acting_for or self.id_number

    @property
    def kind(self) -> str:
        return ORGANIZATION if self.acting_for else PERSON

    @property
    def organization(self) -> Organization | None:
        return next((o for o in self.organizations if o.code == self.acting_for), None)

    @property
    def acting_name(self) -> str:
        org = self.organization
        return org.name if org is not None else self.name

    @property
    def audit_name(self) -> str:
        """How the audit log names them: the service's pseudonymous subject, never the ID number."""
        return f"applicant:{self.subject}"[:64]

    def acting_as(self, code: str | None) -> OnlineApplicant:
        """The same person acting for ``code`` (None: themselves). Raises Forbidden for a code the
        identity service did not vouch for."""
        if code and code not in {o.code for o in self.organizations}:
            raise Forbidden("统一身份认证未授权您代表该单位办理 / the identity service does not vouch that you act "
                            "for this organisation")
        return replace(self, acting_for=code or None)

    def __repr__(self) -> str:
        # Reprs end up in logs and tracebacks: the ID number and the phone only masked.
        return (f"OnlineApplicant(subject={self.subject!r}, id_number={mask_id_number(self.id_number)!r}, "
                f"phone={mask_phone(self.phone)!r}, acting_for={self.acting_for!r})")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, applicant: OnlineApplicant, now: datetime) -> str:
    """Store a new session for ``applicant``; returns the token the cookie carries."""
    token = secrets.token_urlsafe(32)
    session.add(ApplicantSession(
        token_hash=_digest(token), issuer=applicant.issuer, subject=applicant.subject,
        id_number=applicant.id_number, name=applicant.name, phone=applicant.phone,
        organizations=[{"code": o.code, "name": o.name, "role": o.role} for o in applicant.organizations],
        acting_for=applicant.acting_for, created_at=now, expires_at=now + SESSION_LIFETIME))
    session.flush()
    return token


def _row(session: Session, token: str, now: datetime) -> ApplicantSession | None:
    row = session.scalar(select(ApplicantSession).where(ApplicantSession.token_hash == _digest(token)))
    return row if row is not None and row.expires_at > now else None


def applicant_for_token(session: Session, token: str, now: datetime) -> OnlineApplicant | None:
    """The applicant of a live session token; None for an unknown, ended or expired one."""
    row = _row(session, token, now)
    if row is None:
        return None
    organizations = tuple(Organization(o["code"], o.get("name") or o["code"], o.get("role") or "agent")
                          for o in row.organizations or [])
    return OnlineApplicant(row.issuer, row.subject, row.id_number, row.name, row.phone or "", organizations,
                           row.acting_for)


def act_for(session: Session, token: str, code: str | None, now: datetime) -> OnlineApplicant:
    """Switch the session to act for ``code`` (None: the person themselves).

    Raises Forbidden for a code the identity service did not vouch for, or a session that has ended.
    """
    row = _row(session, token, now)
    current = applicant_for_token(session, token, now) if row is not None else None
    if row is None or current is None:
        raise Forbidden("登录已失效，请重新登录 / the sign-in has ended: sign in again")
    chosen = current.acting_as(code)
    row.acting_for = chosen.acting_for
    return chosen


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ApplicantSession).where(ApplicantSession.token_hash == _digest(token)))


def prune(session: Session, now: datetime) -> int:
    """Delete the sessions past their lifetime; returns how many."""
    result = session.execute(delete(ApplicantSession).where(ApplicantSession.expires_at <= now))
    return result.rowcount or 0
