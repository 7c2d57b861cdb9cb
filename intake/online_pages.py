"""The applicant's own pages (网上办事): sign in through the identity service (统一身份认证), choose
whom to act for, my cases (我的办件) with each case's timeline, notices, files and rating. zh-CN,
phone first. Every case route is guarded by ``OWN_CASE``: another applicant's case is answered 404.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file, session, url_for

from engine import applicants, audit, clock
from engine.access import APPLICANT, PUBLIC, guard
from engine.errors import Forbidden, Invalid, NotFound, OneWindowError
from engine.web import (
    APPLICANT_TOKEN,
    client_address,
    current_applicant,
    database,
    optional_applicant,
    reading,
    record_refusal,
    sign_in_applicant,
    sign_out_applicant,
    unit_of_work,
)
from intake import feedback, my_cases, notice_data, oidc, storage
from intake.claims import ClaimsRefused
from intake.notices import render_html, render_pdf
from intake.ownership import OWN_CASE

bp = Blueprint("online", __name__, template_folder="templates", url_prefix="/online")
NEXT = "online_next"  # where to go after signing in (a path of these pages only: no open redirect)
SIGN_IN_REFUSED = "applicant_sign_in_refused"
GRADE_CHOICES = [(code, label) for code, (label, _bad) in feedback.GRADES.items()]


def _settings():
    return current_app.config["ONEWINDOW"]


def _local_path(value: str | None) -> str | None:
    return value if value and value.startswith(bp.url_prefix + "/") and "//" not in value else None


@bp.get("/")
@guard(PUBLIC)
def home():
    if optional_applicant() is not None:
        return redirect(url_for("online.cases"))
    return render_template("intake/applicant/welcome.html", configured=oidc.configured(),
                           signed_out=request.args.get("signed_out") == "1",
                           timed_out=session.pop("timed_out", False))


@bp.get("/sign-in")
@guard(PUBLIC)
def sign_in():
    """To the identity service's sign-in page (with state, nonce and the PKCE challenge)."""
    response = oidc.begin(url_for("online.callback", _external=True))
    session[NEXT] = _local_path(request.args.get("next"))
    return response


@bp.get("/callback")
@guard(PUBLIC)
def callback():
    """Back from the identity service: every check passed, or nobody is signed in."""
    next_path = session.pop(NEXT, None)
    try:
        applicant = oidc.finish()
    except (oidc.SignInRefused, ClaimsRefused) as exc:
        audit.security_event_now(database(), SIGN_IN_REFUSED, username=None, client=client_address(),
                                 detail=str(exc)[:500])
        raise
    sign_in_applicant(applicant)
    if applicant.organizations and applicant.acting_for is None:
        return redirect(url_for("online.acting_for", next=next_path))
    return redirect(_local_path(next_path) or url_for("online.cases"))


@bp.route("/acting-for", methods=["GET", "POST"])
@guard(APPLICANT)
def acting_for():
    """Act as oneself or for one of the organisations the identity service vouches for."""
    applicant = current_applicant()
    if request.method == "POST":
        with unit_of_work() as uow:
            applicants.act_for(uow.session, session[APPLICANT_TOKEN], request.form.get("code") or None, clock.now())
        return redirect(_local_path(request.form.get("next")) or url_for("online.cases"))
    return render_template("intake/applicant/acting_for.html", applicant=applicant,
                           next=_local_path(request.args.get("next")) or "")


@bp.post("/sign-out")
@guard(PUBLIC)
def sign_out():
    token = session.pop(APPLICANT_TOKEN, None)
    if token:
        sign_out_applicant(token, "signed out on the applicant's pages")
    session.clear()
    return redirect(url_for("online.home", signed_out=1))


@bp.get("/cases")
@guard(APPLICANT)
def cases():
    """My cases: every application held under the number the applicant acts under."""
    applicant = current_applicant()
    with reading() as s:
        found = my_cases.applications_of(s, applicant.key)
        rows = [my_cases.summary(s, a) for a in found]
    # an organisation the identity service named by its code alone is named as the window registered it
    holder = applicant.acting_name
    if holder == applicant.key and found:
        holder = f"{found[0].applicant.name}（{applicant.key}）"
    return render_template("intake/applicant/cases.html", applicant=applicant, rows=rows, holder=holder)


@bp.get("/cases/<case_no>")
@guard(OWN_CASE)
def case(case_no: str):
    with reading() as s:
        view = my_cases.case_view(s, my_cases.application_of(s, case_no))
    return render_template("intake/applicant/case.html", applicant=current_applicant(), v=view,
                           grades=GRADE_CHOICES, rated=request.args.get("rated") == "1")


@bp.get("/cases/<case_no>/notices/<kind>.<fmt>")
@guard(OWN_CASE)
def notice(case_no: str, kind: str, fmt: str):
    """A notice of the applicant's case, as printable HTML or PDF (the ID number masked: no one at the
    office is shown anything, and the applicant knows their own)."""
    if fmt not in ("html", "pdf") or kind not in my_cases.APPLICANT_NOTICES:
        raise NotFound(f"没有这种通知书 / no notice {kind}.{fmt}")
    with reading() as s:
        ctx = notice_data.context(s, my_cases.application_of(s, case_no), kind, _settings().office_name)
    if fmt == "html":
        return Response(render_html(kind, ctx), mimetype="text/html")
    return Response(render_pdf(kind, ctx), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{case_no}-{kind}.pdf"'})


@bp.get("/cases/<case_no>/materials/<int:material_id>")
@guard(OWN_CASE)
def material(case_no: str, material_id: int):
    """A file the applicant gave for this case."""
    with reading() as s:
        found = my_cases.material_of(my_cases.application_of(s, case_no), material_id)
        if found is None or found.file is None:
            raise NotFound(f"办件 {case_no} 没有这份材料的文件 / no such file in case {case_no}")
        sha256, content_type, filename = found.file.sha256, found.file.content_type, found.filename
    try:
        content = storage.read(_settings().upload_dir, sha256)
    except FileNotFoundError:
        raise NotFound("文件已不在存储中，请联系窗口 / the file is no longer stored: ask the window") from None
    return send_file(io.BytesIO(content), mimetype=content_type, as_attachment=True,
                     download_name=filename or f"{sha256[:12]}")


@bp.post("/cases/<case_no>/rating")
@guard(OWN_CASE)
def rate(case_no: str):
    """Rate the closed case (好差评), once."""
    applicant = current_applicant()
    with unit_of_work() as uow:
        feedback.rate_own(uow, my_cases.application_of(uow.session, case_no), request.form.get("grade"),
                          request.form.get("comment"), applicant.audit_name,
                          followup_working_days=_settings().followup_working_days)
    return redirect(url_for("online.case", case_no=case_no, rated=1))


@bp.errorhandler(OneWindowError)
def _error(exc: OneWindowError):
    if isinstance(exc, Forbidden):
        record_refusal(str(exc))
    problems = [p.as_dict() for p in exc.problems] if isinstance(exc, Invalid) else []
    return render_template("intake/applicant/message.html", status=exc.status, title=TITLES.get(exc.status, exc.title),
                           detail=str(exc), problems=problems), exc.status


TITLES = {401: "登录未完成", 403: "无权操作", 404: "未找到", 409: "无法办理", 422: "输入有误", 503: "暂时无法访问"}
