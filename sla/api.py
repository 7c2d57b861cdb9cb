"""The SLA API: a case's clock, special procedures, extensions, the alerts inbox."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from engine.access import CASE, SIGNED_IN, guard
from engine.errors import Invalid, Problem
from engine.openapi import operation
from engine.web import current_actor, json_body, reading, unit_of_work
from sla import actions, alerts, clocks, views

bp = Blueprint("sla_api", __name__, url_prefix="/api")


@bp.get("/cases/<case_no>/clock")
@guard(CASE)
@operation("A case's clocks: ledger, due dates (promised, statutory), levels, step clocks", tag="sla",
           errors=(404,))
def case_clock(case_no: str):
    with reading() as s:
        return jsonify(views.case_clock_view(s, case_no, clocks.today()))


@bp.post("/cases/<case_no>/special-procedures")
@guard(CASE)
@operation("Start a special procedure: the case clock pauses until it ends", tag="sla",
           body={"kind": "string", "reason": "string", "expected_working_days": "integer"},
           errors=(403, 404, 409, 422))
def start_special_procedure(case_no: str):
    body = json_body()
    with unit_of_work() as uow:
        proc = actions.start_special_procedure(uow, case_no, body, current_actor())
        out = {"id": proc.id, "kind": proc.kind, "started_on": proc.started_on.isoformat()}
    return jsonify(out), 201


@bp.post("/cases/<case_no>/special-procedures/<int:procedure_id>/end")
@guard(CASE)
@operation("End a special procedure: the case clock resumes", tag="sla", errors=(403, 404, 409))
def end_special_procedure(case_no: str, procedure_id: int):
    with unit_of_work() as uow:
        proc = actions.end_special_procedure(uow, case_no, procedure_id, current_actor())
        out = {"id": proc.id, "kind": proc.kind, "ended_on": proc.ended_on.isoformat() if proc.ended_on else None}
    return jsonify(out)


@bp.post("/cases/<case_no>/extensions")
@guard(CASE)
@operation("Extend the case's time limit (the department's supervisor, before the deadline)", tag="sla",
           body={"working_days": "integer", "reason": "string"}, errors=(403, 404, 409, 422))
def extend(case_no: str):
    body = json_body()
    with unit_of_work() as uow:
        clock = actions.extend(uow, case_no, body, current_actor())
        out = {"due_date": clock.due_date.isoformat() if clock.due_date else None, "level": clock.level}
    return jsonify(out), 201


@bp.get("/alerts")
@guard(SIGNED_IN)
@operation("My alerts (an administrator sees all)", tag="sla", params={"state": "open | acked"})
def list_alerts():
    state = request.args.get("state") or None
    if state not in (None, "open", "acked"):
        raise Invalid("bad filter", [Problem("open or acked", field="state")])
    with reading() as s:
        return jsonify([alerts.alert_dict(a) for a in alerts.visible(s, current_actor(), state)])


@bp.post("/alerts/<int:alert_id>/ack")
@guard(SIGNED_IN)
@operation("Acknowledge an alert", tag="sla", errors=(403, 404))
def ack(alert_id: int):
    with unit_of_work() as uow:
        out = alerts.alert_dict(alerts.acknowledge(uow, alert_id, current_actor()))
    return jsonify(out)
