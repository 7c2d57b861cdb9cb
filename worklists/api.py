"""Caseworkers' task API: the lists, the badges, one task with its form, and the task transitions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from engine import cases
from engine.access import SIGNED_IN, TASK, guard
from engine.errors import Invalid, Problem
from engine.openapi import operation
from engine.web import current_actor, json_body, reading, unit_of_work
from worklists import queries, transitions
from worklists.queries import Filters
from worklists.reader import list_reader

bp = Blueprint("worklists_api", __name__, url_prefix="/api/tasks")

LIST_PARAMS = {
    "view": "inbox | queue | archive | team (default queue)",
    "service": "service item code", "process": "process id", "task": "step id or name",
    "sla": "green | yellow | red", "due_before": "date or ISO instant", "due_after": "date or ISO instant",
    "department": "group key", "q": "case number prefix or applicant name",
    "sort": "due (default) | created | -created | case_no | -case_no | -completed (archive default)",
    "limit": "page size 1-200 (default 50)", "cursor": "next_cursor of the previous page",
}


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", [Problem("not a number", field=name)]) from None
    if not low <= value <= high:
        raise Invalid(f"{name} out of range", [Problem(f"between {low} and {high}", field=name)])
    return value


@bp.get("")
@guard(SIGNED_IN)
@operation("Task list: one keyset page of a view, filtered and sorted", tag="tasks", params=LIST_PARAMS,
           returns={"view": "string", "sort": "string", "items": "array", "next_cursor": "string|null"},
           errors=(422,))
def list_tasks():
    view = request.args.get("view", "queue")
    limit = _int_arg("limit", 50, 1, queries.MAX_LIMIT)
    filters = Filters.parse(request.args)
    actor = current_actor()
    with list_reader() as r:
        page = queries.task_page(r, actor, view, filters, request.args.get("sort") or None, limit,
                                 request.args.get("cursor") or None)
    return jsonify({"view": page.view, "sort": page.sort, "items": page.items, "next_cursor": page.next_cursor})


@bp.get("/counts")
@guard(SIGNED_IN)
@operation("How many tasks each view holds (for the badges), counted up to `cap`", tag="tasks",
           returns={"inbox": "integer", "queue": "integer", "archive": "integer", "team": "integer",
                    "cap": "integer (a count equal to it means 'at least')"})
def counts():
    actor = current_actor()
    with list_reader() as r:
        out = queries.counts(r, actor)
    return jsonify({**out, "cap": queries.COUNT_CAP})


@bp.get("/<task_id>")
@guard(TASK)
@operation("One task: its row, form schema, last data of this step (defaults), allowed actions and every "
           "opinion (审批意见) signed in the case before it", tag="tasks", errors=(404,))
def show(task_id: str):
    with reading() as s:
        tf = transitions.task_form(s, task_id, current_actor())
        out = {
            "task": cases.task_dict(tf.task),
            "case": {"case_no": tf.case.case_no, "subject": tf.case.subject, "service": tf.case.service_code,
                     "status": tf.case.status},
            "form": {"schema": tf.schema, "defaults": tf.defaults,
                     "send_back": {"field": tf.send_back[0], "value": tf.send_back[1]} if tf.send_back else None},
            "allowed": tf.allowed,
            "colleagues": tf.colleagues,
            "opinions": tf.opinions,
        }
    return jsonify(out)


def _body() -> dict:
    return json_body(required=False)


def _version(body: dict) -> int | None:
    v = body.get("version")
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool):
        raise Invalid("version must be a whole number", [Problem("not a number", field="version")])
    return v


@bp.post("/<task_id>/claim")
@guard(TASK)
@operation("Claim a task of your group", tag="tasks", body={"version": "integer (optional)"},
           errors=(403, 404, 409))
def claim(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        out = cases.task_dict(transitions.claim(uow, task_id, current_actor(), _version(body)))
    return jsonify(out)


@bp.post("/<task_id>/unclaim")
@guard(TASK)
@operation("Give a claimed task back to the queue", tag="tasks", body={"version": "integer (optional)"},
           errors=(403, 404, 409))
def unclaim(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        out = cases.task_dict(transitions.unclaim(uow, task_id, current_actor(), _version(body)))
    return jsonify(out)


@bp.post("/<task_id>/complete")
@guard(TASK)
@operation("Complete a task with its form data (checked against the step's formSchema)", tag="tasks",
           body={"data": "object", "version": "integer (optional)"}, errors=(403, 404, 409, 422))
def complete(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        case = transitions.complete(uow, task_id, body.get("data", {}), current_actor(), _version(body))
        out = {"case_no": case.case_no, "status": case.status}
    return jsonify(out)


@bp.post("/<task_id>/send-back")
@guard(TASK)
@operation("Send the case back to the previous step (退回) along the modelled path, with a reason",
           tag="tasks", body={"reason": "string", "data": "object (optional)", "version": "integer (optional)"},
           errors=(403, 404, 409, 422))
def send_back(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        case = transitions.send_back(uow, task_id, body.get("reason"), current_actor(), _version(body),
                                     body.get("data"))
        out = {"case_no": case.case_no, "status": case.status}
    return jsonify(out)


@bp.post("/<task_id>/delegate")
@guard(TASK)
@operation("Hand your task to a colleague in the same group", tag="tasks",
           body={"to": "username", "reason": "string (optional)", "version": "integer (optional)"},
           errors=(403, 404, 409, 422))
def delegate(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        task = transitions.delegate(uow, task_id, body.get("to"), current_actor(), str(body.get("reason") or ""),
                                    _version(body))
        out = cases.task_dict(task)
    return jsonify(out)


@bp.post("/<task_id>/reassign")
@guard(TASK)
@operation("A supervisor of the group gives the task to one of its members", tag="tasks",
           body={"to": "username", "reason": "string (optional)", "version": "integer (optional)"},
           errors=(403, 404, 409, 422))
def reassign(task_id: str):
    body = _body()
    with unit_of_work() as uow:
        task = transitions.reassign(uow, task_id, body.get("to"), current_actor(), str(body.get("reason") or ""),
                                    _version(body))
        out = cases.task_dict(task)
    return jsonify(out)
