"""The kernel's HTTP API: tokens, definitions, cases, messages."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from engine import audit, cases, clock, definitions, flags, migration, office
from engine.access import ADMIN, CASE, DELIVERS_MESSAGE, DESIGNER, MIGRATOR, PUBLIC, SIGNED_IN, STARTS_CASE, guard
from engine.errors import Invalid, Problem
from engine.inputs import accepts_uploads
from engine.openapi import document, operation
from engine.web import (
    audited,
    bearer_token,
    client_address,
    current_actor,
    database,
    json_body,
    problem,
    reading,
    sign_in,
    sign_out,
    unit_of_work,
)

bp = Blueprint("engine_api", __name__, url_prefix="/api")


@bp.post("/auth/token")
@guard(PUBLIC)
@operation("Exchange username and password for a bearer token (failed attempts are throttled: 429 "
           "with Retry-After)", tag="auth",
           body={"username": "string", "password": "string"}, returns={"token": "string"}, errors=(422, 429))
def token():
    body = json_body()
    fields = {name: body.get(name, "") for name in ("username", "password")}
    wrong = [Problem("must be a string", field=name) for name, value in fields.items() if not isinstance(value, str)]
    if wrong:
        raise Invalid("username and password are strings", wrong)
    value = sign_in(fields["username"], fields["password"])
    return jsonify({"token": value, "token_type": "Bearer"})


@bp.post("/auth/logout")
@guard(SIGNED_IN)
@operation("Revoke the bearer token this request carries (sign out)", tag="auth",
           returns={"signed_out": "boolean"})
def logout():
    sign_out(bearer_token() or "", current_actor(), "signed out over the API")
    return jsonify({"signed_out": True})


@bp.get("/me")
@guard(SIGNED_IN)
@operation("Who am I: groups, supervised groups, roles, admin flag", tag="auth")
def me():
    actor = current_actor()
    return jsonify({"username": actor.username, "display_name": actor.display_name,
                    "groups": sorted(actor.groups), "supervises": sorted(actor.supervises),
                    "roles": sorted(actor.roles), "admin": actor.is_admin})


def _uploaded_files() -> dict[str, bytes]:
    if request.files:
        files = {f.filename or f"file{i}.bpmn": f.read() for i, f in enumerate(request.files.getlist("file"))}
        files.update({f.filename or k: f.read() for k, f in request.files.items() if k != "file"})
        return files
    if request.data:
        name = request.args.get("name", "process.bpmn")
        return {name: request.data}
    raise Invalid("send the BPMN as the request body or as multipart field 'file'",
                  [Problem("no file", field="file")])


@bp.post("/definitions")
@guard(DESIGNER)
@accepts_uploads
@operation("Deploy a BPMN file (with its DMN, called processes and forms; designers and administrators)",
           tag="definitions",
           body="BPMN XML or multipart 'file' fields (the main BPMN first)",
           returns={"process_id": "string", "version": "integer", "created": "boolean", "warnings": "array"},
           errors=(403, 413, 422), media=("application/xml", "multipart/form-data"))
def deploy():
    actor = current_actor()
    files = _uploaded_files()
    # a form the upload lacks is taken from the office's designers' folder (bpmn/forms/...)
    designers = Path(current_app.config["ONEWINDOW"].processes_dir).parent
    with unit_of_work() as uow:
        result = definitions.deploy(uow.session, files, actor=actor.username,
                                    process_id=request.args.get("process_id"), forms_from=[designers])
    status = 201 if result.created else 200
    return jsonify({"process_id": result.process_id, "version": result.version,
                    "created": result.created, "warnings": [p.as_dict() for p in result.warnings]}), status


@bp.get("/definitions")
@guard(SIGNED_IN)
@operation("List deployed definitions and their versions", tag="definitions")
def list_definitions():
    with reading() as s:
        rows = definitions.list_definitions(s)
        out = [{"process_id": d.process_id, "version": d.version, "name": d.name,
                "content_hash": d.content_hash, "deployed_at": d.deployed_at.isoformat(),
                "deployed_by": d.deployed_by} for d in rows]
    return jsonify(out)


@bp.post("/definitions/<process_id>/migrations")
@guard(MIGRATOR)
@operation("Move running cases to another deployed version, one transaction per case; a case waiting on an "
           "element the version lacks is refused with it unless the map names its counterpart (administrators)",
           tag="definitions", body={"to_version": "integer", "map": "object", "dry_run": "boolean",
                                    "case_no": "string"},
           returns={"cases": "array", "counts": "object"}, errors=(403, 404, 409, 422))
def migrate(process_id: str):
    body = json_body()
    to_version, mapping, dry_run, case_no = (body.get(k) for k in ("to_version", "map", "dry_run", "case_no"))
    problems = []
    if not isinstance(to_version, int) or isinstance(to_version, bool) or not 1 <= to_version < 2**31:
        problems.append(Problem("a version number (a whole number from 1)", field="to_version"))
    if mapping is not None and not (isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values())):
        problems.append(Problem("an object of old element id to new element id", field="map"))
    if dry_run is not None and not isinstance(dry_run, bool):
        problems.append(Problem("true or false", field="dry_run"))
    if case_no is not None and not isinstance(case_no, str):
        problems.append(Problem("a case number", field="case_no"))
    if problems:
        raise Invalid("the migration request is malformed", problems)
    pairs = migration.parse_map(f"{k}={v}" for k, v in (mapping or {}).items())
    report = migration.migrate_process(database(), process_id, to_version, pairs, current_actor(),
                                       dry_run=bool(dry_run), case_no=case_no)
    if case_no is not None and report.refused:  # the one case asked for did not move: say why
        result = report.refused[0]
        extra = {"error": result.error} if result.error else {}
        return problem(409, "Conflict", f"case {case_no} cannot move to version {to_version}",
                       blocked=[b.__dict__ for b in result.blocked], **extra)
    return jsonify(report.as_dict())


@bp.post("/cases")
@guard(STARTS_CASE)
@operation("Start a case on the latest version of a process (its candidateStarterGroups / startableBy)",
           tag="cases", body={"process_id": "string", "data": "object"}, returns={"case_no": "string"},
           errors=(403, 404, 422))
def start_case():
    body = json_body()
    process_id = body.get("process_id")
    if not isinstance(process_id, str) or not process_id:
        raise Invalid("process_id is required", [Problem("required", field="process_id")])
    with unit_of_work() as uow:
        case = cases.start_case(uow, process_id, body.get("data") or {}, current_actor())
        case_no = case.case_no
    return jsonify({"case_no": case_no, "status": case.status}), 201, {
        "Location": url_for("engine_api.get_case", case_no=case_no)}


@bp.get("/cases/<case_no>")
@guard(CASE)
@operation("A case: status, data, open tasks and its whole history", tag="cases", errors=(404,))
def get_case(case_no: str):
    with reading() as s:
        case = cases.case_by_no(s, case_no)
        return jsonify(cases.case_view(s, case))


@bp.post("/cases/<case_no>/messages/<name>")
@guard(DELIVERS_MESSAGE)
@operation("Deliver a message to a case (those its deliverableBy names)", tag="cases",
           body={"payload": "object"}, errors=(403, 404, 409))
def message(case_no: str, name: str):
    body = json_body(required=False)
    with unit_of_work() as uow:
        case = cases.deliver_message(uow, case_no, name, body.get("payload"), current_actor())
        status = case.status
    return jsonify({"case_no": case_no, "status": status})


@bp.post("/cases/<case_no>/cancel")
@guard(ADMIN)
@operation("Cancel a running case (administrators)", tag="cases", body={"reason": "string"},
           errors=(403, 404, 409))
def cancel(case_no: str):
    actor = current_actor()
    body = json_body(required=False)
    with unit_of_work() as uow:
        cases.cancel(uow, case_no, actor, str(body.get("reason", "")))
    return jsonify({"case_no": case_no, "status": "cancelled"})


@bp.get("/admin/flagged-cases")
@guard(ADMIN)
@operation("Cases flagged for an administrator (state too big or too deep, or wrongly complete)",
           tag="cases", params={"limit": "at most this many (1-1000, default 200)"}, errors=(403,))
def flagged_cases():
    limit = request.args.get("limit", "200")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise Invalid("limit out of range", [Problem("between 1 and 1000", field="limit")])
    with reading() as s:
        return jsonify(flags.flagged_cases(s, int(limit)))


@bp.post("/cases/<case_no>/clear-flag")
@guard(ADMIN)
@operation("Clear a case's flag with a note of what was done (administrators)", tag="cases",
           body={"note": "string"}, errors=(403, 404, 409, 422))
def clear_flag(case_no: str):
    body = json_body()
    with unit_of_work() as uow:
        flags.clear_flag(uow, case_no, current_actor(), body.get("note"))
    return jsonify({"case_no": case_no, "flagged": None})


AUDIT_FILTERS = {"user": "username", "subject": "ID number (whole or masked) or applicant:ID",
                 "case_no": "case number", "category": "personal_data | security",
                 "from": "office day YYYY-MM-DD or ISO instant (inclusive)",
                 "to": "office day (inclusive) or ISO instant (exclusive)"}
AUDIT_EXPORT_MAX = 50_000


def _whole_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name, str(default))
    if not value.isdigit() or not low <= int(value) <= high:
        raise Invalid(f"{name} out of range", [Problem(f"a whole number from {low} to {high}", field=name)])
    return int(value)


@bp.get("/admin/audit")
@guard(ADMIN)
@operation("The audit log, newest first: personal data shown whole and security events (administrators)",
           tag="audit", params={**AUDIT_FILTERS, "limit": "page size 1-1000 (default 100)",
                                "before": "next_before of the previous page"},
           returns={"items": "array", "next_before": "integer|null", "next": "string|null"}, errors=(403, 422))
def audit_log():
    query = audit.parse_query(request.args)
    limit = _whole_arg("limit", 100, 1, 1000)
    before = _whole_arg("before", 0, 1, 2**62) if "before" in request.args else None
    with reading() as s:
        rows = audit.entries(s, query, before=before, limit=limit + 1)
    items = [audit.as_dict(r) for r in rows[:limit]]
    next_before = items[-1]["id"] if len(rows) > limit else None
    more = (url_for("engine_api.audit_log", **query.as_params(), limit=limit, before=next_before)
            if next_before else None)
    return jsonify({"items": items, "next_before": next_before, "next": more})


@bp.get("/admin/audit.csv")
@guard(ADMIN)
@operation("Export the audit log as CSV, same filters as the list (administrators; the export is itself audited)",
           tag="audit", params=AUDIT_FILTERS, errors=(403, 422, 503))
def audit_export():
    actor = current_actor()
    query = audit.parse_query(request.args)
    with audited() as uow:
        rows = audit.entries(uow.session, query, limit=AUDIT_EXPORT_MAX + 1)
        if len(rows) > AUDIT_EXPORT_MAX:
            raise Invalid("too many rows for one export", [Problem(
                f"more than {AUDIT_EXPORT_MAX:,} rows match: narrow the date range", field="from")])
        audit.security_event(uow.session, audit.AUDIT_EXPORTED, username=actor.username,
                             display_name=actor.display_name, client=client_address(),
                             detail=f"{len(rows)} rows; filters {query.as_params()}")
        body = audit.to_csv(rows)
    day = clock.now().astimezone(office.zone).strftime("%Y%m%d")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="audit-{day}.csv"'})


@bp.get("/openapi.json")
@guard(PUBLIC)
def openapi():
    return jsonify(document())
