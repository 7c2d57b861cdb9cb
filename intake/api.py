"""Intake's HTTP API: the catalog, applications, acceptance, resubmission, notices, issuance,
and the applicant's public progress query and rating."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from engine.access import CASE, FRONT_DESK, FRONT_DESK_CASE, PUBLIC, guard
from engine.audit import Purpose
from engine.errors import Invalid, NotFound, Problem
from engine.inputs import accepts_uploads
from engine.openapi import operation
from engine.web import audited, client_address, current_actor, json_body, reading, unit_of_work
from intake import acceptance, applications, catalog_store, feedback, notice_data, personal, views
from intake.notices import render_html, render_pdf
from intake.ratelimit import RateLimiter, SharedRateLimiter
from intake.requests import from_form, parse_application, parse_materials

bp = Blueprint("intake_api", __name__, url_prefix="/api")


def _settings():
    return current_app.config["ONEWINDOW"]


def _body() -> dict:
    if request.mimetype == "multipart/form-data":
        return from_form(request.form, request.files)
    return json_body()


def _version() -> int | None:
    body = request.get_json(silent=True) or {}
    v = body.get("version") if isinstance(body, dict) else None
    return v if isinstance(v, int) else None


@bp.get("/services")
@guard(PUBLIC)
@operation("The service catalog: every item's guide", tag="services")
def list_services():
    with reading() as s:
        return jsonify([catalog_store.guide(row) for row in catalog_store.current_items(s)])


@bp.get("/services/<code>")
@guard(PUBLIC)
@operation("One service item's guide (办事指南): materials, limits, fees, visits", tag="services",
           errors=(404,))
def get_service(code: str):
    with reading() as s:
        return jsonify(catalog_store.guide(catalog_store.current(s, code)))


@bp.post("/applications")
@guard(FRONT_DESK)
@accepts_uploads
@operation("Register an application: checks the applicant, reuses materials, starts the case",
           tag="applications", errors=(403, 413, 422),
           body={"service_code": "string", "applicant": {"kind": "string", "id_number": "string",
                                                         "name": "string", "phone": "string"},
                 "materials": "array of {code, file?: {name, content_base64}}", "channel": "string"},
           returns={"case_no": "string", "status": "string", "missing_materials": "array",
                    "reused_materials": "array", "due_date": "string"})
def submit():
    parsed = parse_application(_body(), _settings().max_upload_bytes)
    with unit_of_work() as uow:
        received = applications.receive(uow, parsed, current_actor(), _settings().upload_dir)
    return jsonify(received.as_dict()), 201, {
        "Location": url_for("intake_api.get_application", case_no=received.case_no)}


@bp.get("/applications/<case_no>")
@guard(CASE)
@operation("An application: applicant (whole only for those handling it, and then recorded in the audit log), "
           "materials, status, notices", tag="applications", errors=(404, 503))
def get_application(case_no: str):
    actor = current_actor()
    with audited() as uow:
        application = applications.application_for(uow.session, case_no)
        whole = personal.disclose(uow, actor, application, Purpose.CASE_HANDLING, client_address(),
                                  "application API")
        view = views.application_view(uow.session, application, whole=whole)
    return jsonify(view)


@bp.post("/cases/<case_no>/acceptance")
@guard(FRONT_DESK_CASE)
@operation("The front desk's acceptance decision: accept | reject | correction", tag="applications",
           body={"decision": "string", "reason": "string", "missing": "array", "redirect_office": "string"},
           errors=(403, 404, 409, 422))
def decide(case_no: str):
    body = json_body()
    with unit_of_work() as uow:
        case = acceptance.decide(uow, case_no, body, current_actor(), _version())
        out = {"case_no": case_no, "status": case.status}
    return jsonify(out)


@bp.post("/cases/<case_no>/materials")
@guard(FRONT_DESK_CASE)
@accepts_uploads
@operation("The applicant's corrected materials (delivers materials_resubmitted)", tag="applications",
           body={"materials": "array of {code, file?}"}, errors=(403, 404, 409, 413, 422))
def resubmit(case_no: str):
    body = _body()
    problems: list[Problem] = []
    materials = parse_materials(body.get("materials"), _settings().max_upload_bytes, problems)
    if problems:
        raise Invalid("invalid materials", problems)
    with unit_of_work() as uow:
        out = applications.resubmit(uow, case_no, materials, current_actor(), _settings().upload_dir)
    return jsonify(out)


@bp.post("/cases/<case_no>/issuance")
@guard(FRONT_DESK_CASE)
@operation("Issue the decision made at 批准 at the window: certificate_no, delivery, tracking_no, handed_over_at; "
           "answers with the 决定书 and 送达回证 to print", tag="applications", errors=(403, 404, 409, 422),
           body={"certificate_no": "string", "delivery": "string", "tracking_no": "string",
                 "handed_over_at": "string"},
           returns={"case_no": "string", "status": "string", "notices": "object"})
def issue(case_no: str):
    body = json_body()
    with unit_of_work() as uow:
        case = acceptance.issue(uow, case_no, body, current_actor(), _version())
        out = {"case_no": case_no, "status": case.status, "notices": {
            kind: url_for("intake_api.notice", case_no=case_no, kind=kind, fmt="pdf")
            for kind in ("decision", "delivery_receipt")}}
    return jsonify(out)


@bp.get("/cases/<case_no>/notices/<kind>.<fmt>")
@guard(CASE)
@operation("A notice or paper of the case as printable HTML or PDF: receipt | acceptance | refusal | correction "
           "| approval_form (审批表) | decision (准予/不予许可决定书) | delivery_receipt (送达回证)",
           tag="applications", errors=(404, 503),
           params={"full": "1: print the ID number whole (handlers only; recorded in the audit log)"})
def notice(case_no: str, kind: str, fmt: str):
    if fmt not in ("html", "pdf"):
        raise NotFound("notices come as .html or .pdf")
    actor = current_actor()
    with audited() as uow:
        application = applications.application_for(uow.session, case_no)
        # a kind the case lacks raises NotFound below, which rolls the audit row back with the rest
        whole = request.args.get("full") == "1" and personal.disclose(
            uow, actor, application, Purpose.NOTICE_PRINT, client_address(), f"{kind}.{fmt}")
        ctx = notice_data.context(uow.session, application, kind, _settings().office_name, whole_id=whole)
    if fmt == "html":
        return Response(render_html(kind, ctx), mimetype="text/html")
    return Response(render_pdf(kind, ctx), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{case_no}-{kind}.pdf"'})


def _limiter() -> RateLimiter | SharedRateLimiter:
    return current_app.extensions["intake.rate_limiter"]


@bp.get("/public/cases/<case_no>")
@guard(PUBLIC)
@operation("Public progress query (no login): status, stage, promised date; nothing personal",
           tag="public", errors=(404, 429), params={"id_tail": "last 4 characters of the ID number"})
def public_case(case_no: str):
    _limiter().hit(request.remote_addr or "?")
    with reading() as s:
        application, case = feedback.find(s, case_no, request.args.get("id_tail"))
        from intake.progress import public_view

        return jsonify(public_view(s, application, case))


@bp.post("/public/cases/<case_no>/rating")
@guard(PUBLIC)
@operation("Rate a closed case (好差评): 非常满意 | 满意 | 基本满意 | 不满意 | 非常不满意", tag="public",
           errors=(404, 409, 422, 429),
           body={"id_tail": "string", "grade": "string", "comment": "string"})
def public_rating(case_no: str):
    _limiter().hit(request.remote_addr or "?")
    body = json_body()
    with unit_of_work() as uow:
        out = feedback.rate(uow, case_no, body.get("id_tail") or request.args.get("id_tail"),
                            body.get("grade"), body.get("comment"),
                            followup_working_days=current_app.config["ONEWINDOW"].followup_working_days)
    return jsonify(out), 201
