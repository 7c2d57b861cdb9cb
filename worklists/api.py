"""Caseworkers' task API: lists and the task transitions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from engine import cases
from engine.errors import Invalid, Problem
from engine.openapi import operation
from engine.web import current_actor, json_body, login_required, reading, unit_of_work
from worklists.queries import task_list

bp = Blueprint("worklists_api", __name__, url_prefix="/api/tasks")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", [Problem("not a number", field=name)]) from None
    if not low <= value <= high:
        raise Invalid(f"{name} out of range", [Problem(f"between {low} and {high}", field=name)])
    return value


@bp.get("")
@login_required
@operation("Task list: view=inbox|queue|archive|team", tag="tasks",
           params={"view": "inbox | queue | archive | team", "limit": "page size (1-200)"})
def list_tasks():
    view = request.args.get("view", "queue")
    limit = _int_arg("limit", 50, 1, 200)
    with reading() as s:
        items = [cases.task_dict(t) for t in task_list(s, current_actor(), view, limit)]
    return jsonify({"view": view, "items": items})


def _expected_version() -> int | None:
    body = request.get_json(silent=True) or {}
    v = body.get("version") if isinstance(body, dict) else None
    return v if isinstance(v, int) else None


@bp.post("/<task_id>/claim")
@login_required
@operation("Claim a task of your group", tag="tasks", errors=(403, 404, 409))
def claim(task_id: str):
    with unit_of_work() as uow:
        task = cases.claim(uow, task_id, current_actor(), _expected_version())
        out = cases.task_dict(task)
    return jsonify(out)


@bp.post("/<task_id>/unclaim")
@login_required
@operation("Give a claimed task back to the queue", tag="tasks", errors=(403, 404, 409))
def unclaim(task_id: str):
    with unit_of_work() as uow:
        out = cases.task_dict(cases.unclaim(uow, task_id, current_actor()))
    return jsonify(out)


@bp.post("/<task_id>/complete")
@login_required
@operation("Complete a task with its form data", tag="tasks", body={"data": "object"},
           errors=(403, 404, 409, 422))
def complete(task_id: str):
    body = json_body(required=False)
    data = body.get("data", {})
    with unit_of_work() as uow:
        case = cases.complete(uow, task_id, data, current_actor(), _expected_version())
        out = {"case_no": case.case_no, "status": case.status}
    return jsonify(out)
