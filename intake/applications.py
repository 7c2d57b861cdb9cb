"""Applications: receive one (applicant, checklist, reuse, case start) and take a resubmission.

Each function is one state change in the caller's unit of work; the route commits. Files reach the
disk last, after every check, so a refused request writes nothing (a crash between the file write
and the commit leaves at worst an unreferenced, content-addressed file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import cases, clock, events, office, policy
from engine.db import UnitOfWork
from engine.errors import Forbidden, Invalid, NotFound, Problem
from engine.identity import Actor
from engine.models import Case, Task
from intake import catalog_store, storage
from intake.dates import add_working_days
from intake.identity import validate_applicant
from intake.models import Applicant, Application, ApplicationMaterial, CatalogItem, Override, StoredFile
from intake.requests import ApplicationIn, MaterialIn


@dataclass
class Received:
    case_no: str
    status: str
    missing: list[dict[str, str]]
    reused: list[dict[str, str]]
    due_date: date | None
    due_provisional: bool
    given: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"case_no": self.case_no, "status": self.status, "missing_materials": self.missing,
                "reused_materials": self.reused, "given_materials": self.given,
                "due_date": self.due_date.isoformat() if self.due_date else None,
                "due_provisional": self.due_provisional}


def check_front_desk(actor: Actor) -> None:
    if not policy.is_front_desk(actor):
        raise Forbidden("only the front desk (综合窗口) registers applications and materials")


def _check_codes(row: CatalogItem, materials: tuple[MaterialIn, ...] | list[MaterialIn],
                 field_prefix: str = "materials") -> list[Problem]:
    known = catalog_store.material_names(row)
    return [Problem(f"事项 {row.code} 没有材料 {m.code} / item {row.code} has no material {m.code}",
                    field=f"{field_prefix}[{i}].code")
            for i, m in enumerate(materials) if m.code not in known]


def reusable_on_file(session, applicant_id: int | None, row: CatalogItem) -> dict[str, ApplicationMaterial]:
    """The applicant's latest stored file for each reusable material of the item (三个不得)."""
    if applicant_id is None:
        return {}
    found: dict[str, ApplicationMaterial] = {}
    for m in row.data.get("materials", []):
        if not m.get("reusable"):
            continue
        earlier = session.scalar(
            select(ApplicationMaterial).where(
                ApplicationMaterial.applicant_id == applicant_id, ApplicationMaterial.code == m["code"],
                ApplicationMaterial.file_sha256.is_not(None))
            .order_by(ApplicationMaterial.id.desc()).limit(1))
        if earlier is not None:
            found[m["code"]] = earlier
    return found


def applicant_by_number(session, id_number: str) -> Applicant | None:
    return session.scalar(select(Applicant).where(Applicant.id_number == id_number.strip().upper()))


def receive(uow: UnitOfWork, request: ApplicationIn, actor: Actor, upload_dir: str | Path) -> Received:
    """Register an application and start the item's process. Raises Invalid, NotFound, Forbidden."""
    check_front_desk(actor)
    session, now = uow.session, clock.now()
    today = office.today()
    problems: list[Problem] = []
    row = session.scalar(select(CatalogItem).where(CatalogItem.code == request.service_code)
                         .order_by(CatalogItem.version.desc()).limit(1))
    if row is None:
        raise Invalid(f"no service item {request.service_code}",
                      [Problem(f"未知事项 / unknown service item {request.service_code}", field="service_code")])
    try:
        who = validate_applicant(request.kind, request.id_number, request.name, request.phone,
                                 override_reason=request.override_reason, today=today)
    except Invalid as exc:
        problems += exc.problems
        who = None
    problems += _check_codes(row, request.materials)
    if problems or who is None:
        raise Invalid("invalid application", problems)

    applicant = _applicant(session, who, now)

    names = catalog_store.material_names(row)
    given = {m.code: m for m in request.materials}
    on_file = {c: m for c, m in reusable_on_file(session, applicant.id, row).items() if c not in given}
    missing = [m for m in row.data["materials"] if m["required"] and m["code"] not in given
               and m["code"] not in on_file]
    item = row.data
    data = {
        "service_code": row.code, "service_name": row.name, "category": item["category"],
        "item_department": row.department, "case_type": item["case_type"], "channel": request.channel,
        "applicant_kind": applicant.kind, "applicant_name": applicant.name,
        "materials": sorted(set(given) | set(on_file)), "missing_materials": [m["code"] for m in missing],
    }
    meta = {"promised_working_days": item["promised_working_days"],
            "statutory_working_days": item["statutory_working_days"],
            "warning_working_days": item.get("warning_working_days"), "case_type": item["case_type"],
            "catalog_version": row.version}
    case = cases.start_case(uow, row.process, data, actor, service_code=row.code, subject=applicant.name,
                            meta=meta)
    application = Application(
        case_id=case.id, case_no=case.case_no, applicant_id=applicant.id, catalog_item_id=row.id,
        service_code=row.code, channel=request.channel, received_at=now, received_on=today,
        intake_since=today, intake_element=_first_front_desk_element(session, case),
        created_by=actor.username,
    )
    session.add(application)
    session.flush()
    uploads = _add_materials(uow, application, applicant.id, request.materials, names, "given", now)
    reused = []
    for code, earlier in sorted(on_file.items()):
        session.add(ApplicationMaterial(
            application_id=application.id, applicant_id=applicant.id, code=code, name=names[code],
            source="reused", file_sha256=earlier.file_sha256, filename=earlier.filename,
            reused_from_id=earlier.id, provided_at=now))
        reused.append({"code": code, "name": names[code], "from_case_no": earlier.application.case_no})
    if who.overridden:
        session.add(Override(application_id=application.id, field="applicant.id_number",
                             reason=who.override_reason or "", officer=actor.username, at=now))
        events.record(uow, case.id, "applicant_override", actor=actor.username,
                      data={"field": "applicant.id_number", "reason": who.override_reason})
    due, provisional = add_working_days(today, int(item["promised_working_days"]))
    missing_out = [{"code": m["code"], "name": m["name"]} for m in missing]
    events.record(uow, case.id, "application_received", actor=actor.username, data={
        "channel": request.channel, "received_on": today.isoformat(), "catalog_version": row.version,
        "given": sorted(given), "reused": [r["code"] for r in reused], "missing": [m["code"] for m in missing],
    })
    session.flush()
    _write_files(upload_dir, uploads)
    return Received(case.case_no or "", "received", missing_out, reused, due, provisional, sorted(given))


def _applicant(session, who, now) -> Applicant:
    """The applicant row for this number, created if new. Two first applications of the same
    applicant at once must not fail: the insert does nothing on conflict and the row is read back."""
    applicant = applicant_by_number(session, who.id_number)
    if applicant is None:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        session.execute(insert(Applicant).values(
            id_number=who.id_number, kind=who.kind.value, name=who.name, phone=who.phone,
            created_at=now, updated_at=now).on_conflict_do_nothing(index_elements=["id_number"]))
        applicant = applicant_by_number(session, who.id_number)
        assert applicant is not None
    elif (applicant.name, applicant.phone) != (who.name, who.phone):
        applicant.name, applicant.phone, applicant.updated_at = who.name, who.phone, now
    return applicant


def _first_front_desk_element(session, case: Case) -> str | None:
    task = session.scalar(select(Task).where(Task.case_id == case.id, Task.group == policy.FRONT_DESK)
                          .order_by(Task.created_at, Task.id).limit(1))
    return task.element_id if task is not None else None


def _add_materials(uow: UnitOfWork, application: Application, applicant_id: int,
                   materials, names: dict[str, str], source: str, now) -> list[storage.Upload]:
    uploads = _file_rows(uow.session, materials, now)
    for m in materials:
        up = m.upload
        uow.session.add(ApplicationMaterial(
            application_id=application.id, applicant_id=applicant_id, code=m.code, name=names[m.code],
            source=source if up is not None else "paper", file_sha256=up.sha256 if up else None,
            filename=up.name if up else None, provided_at=now))
    return uploads


def _file_rows(session, materials, now) -> list[storage.Upload]:
    """One row per distinct stored file (before the materials that point at them)."""
    uploads = [m.upload for m in materials if m.upload is not None]
    seen: set[str] = set()
    for up in uploads:
        if up.sha256 in seen:
            continue
        seen.add(up.sha256)
        if session.get(StoredFile, up.sha256) is None:
            session.add(StoredFile(sha256=up.sha256, size=up.size, content_type=up.content_type, created_at=now))
    session.flush()
    return uploads


def _write_files(upload_dir, uploads: list[storage.Upload]) -> None:
    for up in uploads:
        storage.put(upload_dir, up)


def application_for(session, case_no: str) -> Application:
    app = session.scalar(select(Application).where(Application.case_no == case_no))
    if app is None:
        raise NotFound(f"no application with case number {case_no}")
    return app


def resubmit(uow: UnitOfWork, case_no: str, materials: list[MaterialIn], actor: Actor,
             upload_dir: str | Path) -> dict[str, Any]:
    """The applicant brings the corrected materials: store them, restart the 5-day count, and
    deliver ``materials_resubmitted`` to the case. Raises Invalid, NotFound, Conflict (not waiting)."""
    check_front_desk(actor)
    session, now = uow.session, clock.now()
    application = application_for(session, case_no)
    if not materials:
        raise Invalid("no materials", [Problem("at least one material", field="materials")])
    problems = _check_codes(application.item, materials)
    if problems:
        raise Invalid("invalid materials", problems)
    names = catalog_store.material_names(application.item)
    codes = [m.code for m in materials]
    cases.deliver_message(uow, case_no, "materials_resubmitted", {"materials": codes}, actor)
    uploads = _add_materials(uow, application, application.applicant_id, materials, names, "resubmitted", now)
    application.intake_since = office.today()
    events.record(uow, application.case_id, "materials_resubmitted", actor=actor.username,
                  data={"materials": codes, "received_on": application.intake_since.isoformat()})
    session.flush()
    _write_files(upload_dir, uploads)
    return {"case_no": case_no, "materials": codes, "status": "received"}
