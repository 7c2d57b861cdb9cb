"""The applicant's page without a login (件件有反馈): look a case up by number and the last four
characters of the ID number, see where it is and when it is due, rate it once it has closed."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from engine.access import PUBLIC, guard
from engine.errors import Conflict, Invalid, NotFound
from engine.web import reading, unit_of_work
from intake import feedback
from intake.progress import public_view

bp = Blueprint("intake_public", __name__, template_folder="templates", url_prefix="/public")
GRADE_CHOICES = [(code, label) for code, (label, _bad) in feedback.GRADES.items()]


def _limit() -> None:
    current_app.extensions["intake.rate_limiter"].hit(request.remote_addr or "?")


@bp.get("/cases")
@guard(PUBLIC)
def lookup():
    case_no = (request.values.get("case_no") or "").strip()
    tail = (request.values.get("id_tail") or "").strip()
    view, error = None, None
    if case_no:
        _limit()
        try:
            with reading() as s:
                application, case = feedback.find(s, case_no, tail)
                view = public_view(s, application, case)
        except NotFound as exc:
            error = str(exc)
    return render_template("intake/public.html", view=view, error=error, case_no=case_no, id_tail=tail,
                           grades=GRADE_CHOICES, rated=None), (404 if error else 200)


@bp.post("/cases/<case_no>/rating")
@guard(PUBLIC)
def rate(case_no: str):
    _limit()
    tail = request.form.get("id_tail", "")
    rated, error = None, None
    try:
        with unit_of_work() as uow:
            rated = feedback.rate(uow, case_no, tail, request.form.get("grade"), request.form.get("comment"),
                                  followup_working_days=current_app.config["ONEWINDOW"].followup_working_days)
    except (Invalid, Conflict, NotFound) as exc:
        error = str(exc)
    view = None
    try:
        with reading() as s:
            application, case = feedback.find(s, case_no, tail)
            view = public_view(s, application, case)
    except NotFound:
        pass
    return render_template("intake/public.html", view=view, error=error, case_no=case_no, id_tail=tail,
                           grades=GRADE_CHOICES, rated=rated), (200 if rated else 422 if view else 404)
