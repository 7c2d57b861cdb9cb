"""The supervisors' pages (电子监察): alerts inbox, at-risk and overdue by department, compliance, a clock."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from engine.web import current_actor, login_required, reading, unit_of_work
from sla import alerts as alerting
from sla import clocks, views

bp = Blueprint("sla_pages", __name__, url_prefix="/supervision", template_folder="templates")


def _groups():
    actor = current_actor()
    return None if actor.is_admin else set(actor.supervises | actor.groups)


@bp.get("/")
@login_required
def alerts_page():
    return redirect(url_for("sla_pages.alerts"))


@bp.get("/alerts")
@login_required
def alerts():
    state = request.args.get("state", "open")
    with reading() as s:
        rows = [alerting.alert_dict(a) for a in alerting.visible(s, current_actor(), state if state != "all" else None)]
    return render_template("sla/alerts.html", alerts=rows, state=state, tab="alerts")


@bp.post("/alerts/<int:alert_id>/ack")
@login_required
def ack(alert_id: int):
    with unit_of_work() as uow:
        alerting.acknowledge(uow, alert_id, current_actor())
    return redirect(url_for("sla_pages.alerts", state=request.args.get("state", "open")))


@bp.get("/at-risk")
@login_required
def at_risk():
    with reading() as s:
        rows = views.at_risk(s, _groups())
    by_group: dict[str, list[dict]] = {}
    for row in rows:
        by_group.setdefault(row["group"] or "-", []).append(row)
    return render_template("sla/at_risk.html", by_group=by_group, tab="at_risk")


@bp.get("/compliance")
@login_required
def compliance():
    with reading() as s:
        rows = views.compliance(s, _groups())
    return render_template("sla/compliance.html", rows=rows, tab="compliance")


@bp.get("/cases/<case_no>")
@login_required
def case_clock(case_no: str):
    with reading() as s:
        view = views.case_clock_view(s, case_no, clocks.today())
    return render_template("sla/clock.html", view=view, tab="")
