"""The bad-rating follow-up's page of its own: whom to call back (the whole number, audited, for those
the policy lets see it). The follow-up task itself is a worklist task; its panel
(``templates/panels/bad_review_followup.html``) shows the grade, the comment and the rated case."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.access import CASE, guard
from engine.web import audited, client_address, current_actor
from intake import feedback

bp = Blueprint("intake_followups", __name__, template_folder="templates", url_prefix="/followups")


@bp.get("/<case_no>/contact")
@guard(CASE)
def contact(case_no: str):
    with audited() as uow:
        view = feedback.contact(uow, case_no, current_actor(), client_address())
    return render_template("intake/followup_contact.html", view=view)
