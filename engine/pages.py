"""The web shell: log in, log out, the home page that sends each role where it works."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, session, url_for

from engine import audit, flags, office, policy
from engine.access import ADMIN, PUBLIC, guard
from engine.errors import Invalid, OneWindowError, Problem, TooManyRequests, Unauthorized
from engine.web import (
    APPLICANT_TOKEN,
    current_actor,
    end_page_session,
    optional_actor,
    reading,
    sign_in,
    sign_out,
    unit_of_work,
)

bp = Blueprint("shell", __name__, template_folder="templates")


@bp.app_template_filter("office_time")
def office_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant (ISO text or aware datetime, stored in UTC) shown in the office's zone."""
    if not value:
        return "—"
    try:
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        return instant.astimezone(office.zone).strftime(fmt)
    except ValueError:
        return str(value)


@bp.get("/")
@guard(PUBLIC)
def home():
    actor = optional_actor()
    if actor is None:
        return redirect(url_for("shell.login"))
    if policy.is_front_desk(actor) and "intake_pages.window" in _endpoints():
        return redirect(url_for("intake_pages.window"))
    return redirect(url_for("worklist_pages.tasks"))


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)


@bp.route("/login", methods=["GET", "POST"])
@guard(PUBLIC)
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            token = sign_in(request.form.get("username", ""), request.form.get("password", ""))
            if session.get(APPLICANT_TOKEN):  # an applicant signed in on this browser is signed out
                end_page_session("a staff sign-in in the same browser")
            session.clear()  # nothing of the anonymous session (its CSRF token) carries over
            session["token"] = token
            return redirect(url_for("shell.home"))
        except Unauthorized:
            error, status = "用户名或密码错误 / wrong username or password", 401
        except TooManyRequests as exc:
            error, status, headers = str(exc), 429, {"Retry-After": str(exc.retry_after or 60)}
    timed_out = session.pop("timed_out", False)
    return render_template("login.html", error=error, timed_out=timed_out), status, headers


@bp.post("/logout")
@guard(PUBLIC)
def logout():
    actor = optional_actor()
    token = session.pop("token", None)
    if token:
        sign_out(token, actor, "signed out on the pages")
    return redirect(url_for("shell.login"))


@bp.route("/admin/flagged", methods=["GET", "POST"])
@guard(ADMIN)
def flagged():
    """Administrators: the flagged cases, each with a form to clear its flag with a note."""
    actor = current_actor()
    error, done, status = None, None, 200
    if request.method == "POST":
        case_no = request.form.get("case_no", "")
        try:
            with unit_of_work() as uow:
                flags.clear_flag(uow, case_no, actor, request.form.get("note"))
            done = case_no
        except OneWindowError as exc:
            error, status = f"{case_no}: {exc}", exc.status
    with reading() as s:
        rows = flags.flagged_cases(s)
    return render_template("flagged.html", rows=rows, error=error, done=done), status


AUDIT_PAGE_SIZE = 100


@bp.get("/admin/audit")
@guard(ADMIN)
def audit_log():
    """Administrators: the audit log with its filters, a page at a time, and a link to export it."""
    query = audit.parse_query(request.args)
    before = request.args.get("before", "")
    if before and not before.isdigit():
        raise Invalid("before is not a row number", [Problem("a whole number", field="before")])
    with reading() as s:
        rows = audit.entries(s, query, before=int(before) if before else None, limit=AUDIT_PAGE_SIZE + 1)
    items = [audit.as_dict(r) for r in rows[:AUDIT_PAGE_SIZE]]
    params = query.as_params()
    more = (url_for("shell.audit_log", **params, before=items[-1]["id"])
            if len(rows) > AUDIT_PAGE_SIZE else None)
    form = {k: request.args.get(k, "") for k in ("user", "subject", "case_no", "category", "from", "to")}
    return render_template("audit.html", items=items, form=form, more=more,
                           export=url_for("engine_api.audit_export", **params))
