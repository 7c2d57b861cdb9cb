"""The audit log (PIPL, GB/T 22239 level 3): who saw personal data whole, and security events.

Two kinds of row in one append-only table (``engine.models.AuditEntry``):

* ``personal_data``: someone was shown an ID or phone number whole. Who (username and display name),
  whose (the ID masked, and a reference such as ``applicant:42``), which case, when (UTC), why (the
  :class:`Purpose`) and from where (the client's address). The row is written in the unit of work of
  the request that shows the data, and the response is built only once it has committed: when the row
  cannot be written, nothing is shown whole (see ``engine.web.audited``).
* ``security``: a failed or throttled sign-in, a revoked token, a refused permission, an export of
  this log. Written on their own (:func:`security_event_now`) when the request itself is refused
  and rolled back, or in the request's unit of work (:func:`security_event`) when it commits.

Nothing here updates or deletes a row, no route or command does, and the migration adds triggers
that refuse UPDATE, and DELETE of rows younger than six months (the retention; docs/operations.md).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import clock, office
from engine.db import Database
from engine.errors import Invalid, Problem
from engine.identity import Actor
from engine.models import AuditEntry
from engine.privacy import mask_id_number

log = logging.getLogger(__name__)

PERSONAL_DATA = "personal_data"
SECURITY = "security"
CATEGORIES = (PERSONAL_DATA, SECURITY)


class Purpose(StrEnum):
    """Why personal data was shown whole."""

    CASE_HANDLING = "case_handling"
    NOTICE_PRINT = "notice_print"
    ID_LOOKUP = "id_lookup"
    EXPORT = "export"


# Security events other packages record; the vocabulary is open (any snake_case name), these are labelled.
LOGIN_FAILED = "login_failed"
LOGIN_THROTTLED = "login_throttled"
TOKEN_REVOKED = "token_revoked"
PERMISSION_REFUSED = "permission_refused"
AUDIT_EXPORTED = "audit_exported"

LABELS = {
    Purpose.CASE_HANDLING: "办理案件", Purpose.NOTICE_PRINT: "打印通知书", Purpose.ID_LOOKUP: "按证件号码查询",
    Purpose.EXPORT: "导出", LOGIN_FAILED: "登录失败", LOGIN_THROTTLED: "登录受限（尝试过多）",
    TOKEN_REVOKED: "令牌注销", PERMISSION_REFUSED: "越权操作被拒绝", AUDIT_EXPORTED: "导出审计记录",
}
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
_DETAIL_MAX = 500


def _clip(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


def personal_data_shown(session: Session, actor: Actor, *, purpose: Purpose, id_number: str,
                        subject_ref: str | None, case_no: str | None, client: str | None,
                        detail: str = "") -> AuditEntry:
    """Record, in the caller's unit of work, that ``actor`` is shown ``id_number``'s holder's data whole.

    ``id_number`` is given whole and stored masked: the log must not become a copy of what it guards.
    """
    entry = AuditEntry(
        at=clock.now(), category=PERSONAL_DATA, event=Purpose(purpose).value, username=actor.username,
        display_name=_clip(actor.display_name or actor.username, 128), subject=mask_id_number(id_number or ""),
        subject_ref=_clip(subject_ref, 64), case_no=_clip(case_no, 32), client=_clip(client, 64),
        detail=_clip(detail, _DETAIL_MAX) or "",
    )
    session.add(entry)
    session.flush()  # fail here, inside the request, rather than at a commit after the view was built
    return entry


def security_event(session: Session, event: str, *, username: str | None, display_name: str = "",
                   client: str | None = None, case_no: str | None = None, detail: str = "") -> AuditEntry:
    """Record a security event in the caller's unit of work (it stands or falls with that work).

    ``username`` is whoever acted, or for a failed sign-in the name that was tried.
    Raises ValueError for an event name that is not snake_case (a programming error).
    """
    if not _EVENT_NAME.fullmatch(event):
        raise ValueError(f"security event names are snake_case, not {event!r}")
    entry = AuditEntry(
        at=clock.now(), category=SECURITY, event=event, username=_clip(username, 64),
        display_name=_clip(display_name, 128) or "", subject=None, subject_ref=None,
        case_no=_clip(case_no, 32), client=_clip(client, 64), detail=_clip(detail, _DETAIL_MAX) or "",
    )
    session.add(entry)
    session.flush()
    return entry


def security_event_now(db: Database, event: str, *, username: str | None, display_name: str = "",
                       client: str | None = None, case_no: str | None = None, detail: str = "") -> bool:
    """Record a security event in a unit of work of its own, committed at once: for refusals, whose
    request rolls back. Returns False (and logs why) when the database cannot take it, so a refusal
    stays a refusal and never becomes a 500."""
    try:
        with db.unit_of_work() as uow:
            security_event(uow.session, event, username=username, display_name=display_name, client=client,
                           case_no=case_no, detail=detail)
    except SQLAlchemyError:
        log.exception("could not record the security event %s for %s", event, username)
        return False
    return True


# ---- reading the log --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditQuery:
    """Filters of the administrators' list and export; each None means "any"."""

    user: str | None = None
    subject: str | None = None
    case_no: str | None = None
    category: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def as_params(self) -> dict[str, str]:
        out = {"user": self.user, "subject": self.subject, "case_no": self.case_no, "category": self.category,
               "from": self.since.isoformat() if self.since else None,
               "to": self.until.isoformat() if self.until else None}
        return {k: v for k, v in out.items() if v}


def _instant(text: str, field: str, *, end: bool) -> datetime:
    """An ISO instant, or an office-local day (``YYYY-MM-DD``): its start, or with ``end`` the next day's."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            start = datetime.combine(day, time(), tzinfo=office.zone)
            return start + timedelta(days=1) if end else start
        return clock.parse_instant(text)
    except ValueError:
        raise Invalid(f"{field} is not a date", [Problem("YYYY-MM-DD (office day) or an ISO 8601 instant",
                                                         field=field)]) from None


def parse_query(args: Mapping[str, str]) -> AuditQuery:
    """The filters from query parameters ``user``, ``subject``, ``case_no``, ``category``, ``from``, ``to``.

    ``subject`` is an ID number (whole or masked: compared masked) or a reference such as ``applicant:42``.
    ``from`` and ``to`` are office days (both inclusive) or instants. Raises Invalid naming the field.
    """
    def text(name: str, size: int) -> str | None:
        value = (args.get(name) or "").strip()
        if len(value) > size:
            raise Invalid(f"{name} is too long", [Problem(f"at most {size} characters", field=name)])
        return value or None

    category = text("category", 16)
    if category is not None and category not in CATEGORIES:
        raise Invalid("unknown category", [Problem(f"one of {', '.join(CATEGORIES)}", field="category")])
    since_text, until_text = text("from", 40), text("to", 40)
    since = _instant(since_text, "from", end=False) if since_text else None
    until = _instant(until_text, "to", end=True) if until_text else None
    if since and until and since >= until:
        raise Invalid("the date range is empty", [Problem("must be before 'to'", field="from")])
    return AuditQuery(user=text("user", 64), subject=text("subject", 64), case_no=text("case_no", 32),
                      category=category, since=since, until=until)


def entries(session: Session, query: AuditQuery, *, before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Rows matching ``query``, newest first; ``before`` (a row id) continues after a previous page."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if query.user:
        stmt = stmt.where(AuditEntry.username == query.user)
    if query.subject:
        ref = query.subject if ":" in query.subject else None
        # ID numbers never hold a colon; references do (applicant:42)
        stmt = stmt.where(AuditEntry.subject_ref == ref if ref
                          else AuditEntry.subject == mask_id_number(query.subject.upper()))
    if query.case_no:
        stmt = stmt.where(AuditEntry.case_no == query.case_no)
    if query.category:
        stmt = stmt.where(AuditEntry.category == query.category)
    if query.since:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until:
        stmt = stmt.where(AuditEntry.at < query.until)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return list(session.scalars(stmt))


def local_time(at: datetime) -> str:
    """An instant as the office reads it: 2026-12-03 09:30:05 in the office's zone."""
    return at.astimezone(office.zone).strftime("%Y-%m-%d %H:%M:%S")


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "at_local": local_time(entry.at),
            "category": entry.category, "event": entry.event, "event_label": LABELS.get(entry.event, entry.event),
            "username": entry.username, "display_name": entry.display_name, "subject": entry.subject,
            "subject_ref": entry.subject_ref, "case_no": entry.case_no, "client": entry.client,
            "detail": entry.detail}


CSV_COLUMNS = ("id", "at", "at_local", "category", "event", "event_label", "username", "display_name",
               "subject", "subject_ref", "case_no", "client", "detail")


def to_csv(rows: Iterable[AuditEntry]) -> str:
    """The rows as CSV with a header, behind a byte-order mark so spreadsheet programs read it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in rows:
        row = as_dict(entry)
        # a cell starting with = + - @ would be run as a formula by a spreadsheet: quote it as text
        writer.writerow(["'" + v if isinstance(v, str) and v and v[0] in "=+-@" else v
                         for v in (row[c] for c in CSV_COLUMNS)])
    return "\ufeff" + out.getvalue()
