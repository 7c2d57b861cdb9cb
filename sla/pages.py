"""The supervisors' pages (电子监察): alerts inbox, at-risk and overdue by department, compliance, a clock."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from engine import cases, diagram, policy
from engine.access import CASE, SIGNED_IN, guard
from engine.web import current_actor, reading, unit_of_work
from sla import alerts as alerting
from sla import clocks, views

bp = Blueprint("sla_pages", __name__, url_prefix="/supervision", template_folder="templates")


def _groups() -> set[str] | None:
    scope = policy.supervision_scope(current_actor())
    return None if scope is None else set(scope)


@bp.get("/")
@guard(SIGNED_IN)
def alerts_page():
    return redirect(url_for("sla_pages.alerts"))


@bp.get("/alerts")
@guard(SIGNED_IN)
def alerts():
    state = request.args.get("state", "open")
    with reading() as s:
        rows = [alerting.alert_dict(a) for a in alerting.visible(s, current_actor(), state if state != "all" else None)]
    return render_template("sla/alerts.html", alerts=rows, state=state, tab="alerts")


@bp.post("/alerts/<int:alert_id>/ack")
@guard(SIGNED_IN)
def ack(alert_id: int):
    with unit_of_work() as uow:
        alerting.acknowledge(uow, alert_id, current_actor())
    return redirect(url_for("sla_pages.alerts", state=request.args.get("state", "open")))


@bp.get("/at-risk")
@guard(SIGNED_IN)
def at_risk():
    with reading() as s:
        rows = views.at_risk(s, _groups())
    by_group: dict[str, list[dict]] = {}
    for row in rows:
        by_group.setdefault(row["group"] or "-", []).append(row)
    return render_template("sla/at_risk.html", by_group=by_group, tab="at_risk")


@bp.get("/compliance")
@guard(SIGNED_IN)
def compliance():
    with reading() as s:
        rows = views.compliance(s, _groups())
    return render_template("sla/compliance.html", rows=rows, tab="compliance")


@bp.get("/cases/<case_no>")
@guard(CASE)
def case_clock(case_no: str):
    with reading() as s:
        view = views.case_clock_view(s, case_no, clocks.today())
        drawn = diagram.case_diagram(s, cases.case_by_no(s, case_no))
    return render_template("sla/clock.html", view=view, tab="", steps=diagram.step_list(drawn) if drawn else [])
