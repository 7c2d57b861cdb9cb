"""Caseworkers' pages: the task list (inbox, queue, archive), a task, a case."""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for

from engine import cases
from engine.errors import Invalid, NotFound, Problem
from engine.models import Task
from engine.web import current_actor, login_required, reading, unit_of_work
from worklists.queries import task_list

bp = Blueprint("worklist_pages", __name__, template_folder="templates")


@bp.before_request
def _require_login():
    from engine.web import optional_actor

    if optional_actor() is None:
        return redirect(url_for("shell.login"))
    return None


@bp.get("/tasks")
@login_required
def tasks():
    view = request.args.get("view", "queue")
    actor = current_actor()
    with reading() as s:
        items = [cases.task_dict(t) for t in task_list(s, actor, view, 100)]
    return render_template("worklists/tasks.html", view=view, items=items)


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    actor = current_actor()
    with reading() as s:
        row = s.get(Task, task_id)
        if row is None:
            raise NotFound(f"no task {task_id}")
        if not actor.may_work(row.group):
            from engine.errors import Forbidden

            raise Forbidden(f"task {task_id} belongs to group '{row.group}'")
        case = cases.case_by_no(s, row.case_no)
        view = cases.case_view(s, case)
        item = cases.task_dict(row)
    return render_template("worklists/task.html", task=item, case=view)


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    with unit_of_work() as uow:
        cases.claim(uow, task_id, current_actor())
    return redirect(url_for("worklist_pages.task", task_id=task_id))


@bp.post("/tasks/<task_id>/complete")
@login_required
def complete(task_id: str):
    data: dict = {}
    raw = request.form.get("data_json", "").strip()
    if raw:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise Invalid("the data is not valid JSON", [Problem(str(exc), field="data_json")]) from None
    for key in ("decision", "outcome", "result", "comment"):
        if request.form.get(key):
            data[key] = request.form[key]
    with unit_of_work() as uow:
        case = cases.complete(uow, task_id, data, current_actor())
        case_no = case.case_no
    return redirect(url_for("worklist_pages.case", case_no=case_no))


@bp.get("/cases/<case_no>")
@login_required
def case(case_no: str):
    with reading() as s:
        view = cases.case_view(s, cases.case_by_no(s, case_no))
    return render_template("worklists/case.html", case=view)
