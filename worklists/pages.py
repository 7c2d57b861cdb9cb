"""Caseworkers' pages: the task list (views, filters, badges), a task with its form, a case."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for

from engine import cases, diagram, office, policy
from engine.access import CASE, SIGNED_IN, TASK, guard
from engine.errors import Conflict, Forbidden, Invalid, OneWindowError
from engine.identity import Actor
from engine.web import current_actor, reading, unit_of_work
from worklists import forms, queries, transitions
from worklists.queries import Filters
from worklists.reader import list_reader

bp = Blueprint("worklist_pages", __name__, template_folder="templates")

VIEW_LABELS = [("inbox", "我的待办"), ("queue", "可认领"), ("archive", "已办"), ("team", "团队")]
SORT_LABELS = [("due", "到期时间（最紧急在前）"), ("created", "创建时间（最早在前）"),
               ("-created", "创建时间（最新在前）"), ("case_no", "办件编号"), ("-completed", "办结时间（最新在前）")]
LEVEL_LABELS = {"green": "正常", "yellow": "预警", "red": "超期"}
EVENT_LABELS = {
    "case_started": "申请提交", "task_created": "环节开始", "task_claimed": "认领", "task_unclaimed": "退回任务池",
    "task_completed": "办理完成", "task_sent_back": "退回", "task_delegated": "转办", "task_reassigned": "改派",
    "task_cancelled": "环节取消", "element_completed": "流程节点", "case_waiting": "等待", "case_resumed": "继续办理",
    "message_received": "收到材料", "timer_fired": "定时触发", "case_ended": "办结", "case_cancelled": "撤销",
}


@bp.app_template_filter("wl_local")
def local_time(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO instant shown in the office's zone."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).astimezone(office.zone).strftime(fmt)
    except ValueError:
        return value


@bp.app_template_filter("wl_event")
def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind)


@bp.get("/tasks")
@guard(SIGNED_IN)
def tasks():
    actor = current_actor()
    view = request.args.get("view", "queue")
    error = None
    try:
        filters = Filters.parse(request.args)
    except Invalid as exc:
        filters, error = Filters(), exc
    with list_reader() as r:
        badges = queries.counts(r, actor)
        try:
            page = queries.task_page(r, actor, view, filters, request.args.get("sort") or None, 50,
                                     request.args.get("cursor") or None)
        except Invalid as exc:
            page, error = queries.Page([], None, view if view in queries.VIEWS else "queue", "due", filters), exc
    next_url = None
    if page.next_cursor:
        next_url = url_for("worklist_pages.tasks", view=page.view, sort=page.sort, cursor=page.next_cursor,
                           **filters.as_args())
    return render_template("worklists/tasks.html", page=page, badges=badges, views=VIEW_LABELS,
                           sorts=SORT_LABELS, levels=LEVEL_LABELS, next_url=next_url, error=error,
                           supervisor=bool(policy.team_groups(actor)), args=request.args, cap=queries.COUNT_CAP)


def _render_task(task_id: str, actor: Actor, *, status: int = 200, message: str | None = None,
                 problems: list | None = None, entered: dict | None = None):
    with reading() as s:
        tf = transitions.task_form(s, task_id, actor)
        view = cases.case_view(s, tf.case)
        item = cases.task_dict(tf.task)
    hide = tf.send_back[1] if tf.send_back else None
    values = {**tf.defaults, **(entered or {})}
    return render_template(
        "worklists/task.html", task=item, case=view, form_fields=forms.fields(tf.schema, hide_value=hide),
        values=values, previous=tf.defaults, allowed=tf.allowed, colleagues=tf.colleagues, earlier=tf.opinions,
        has_schema=tf.schema is not None, message=message, problems=problems or [], levels=LEVEL_LABELS,
    ), status


def _message(exc: OneWindowError) -> str:
    if isinstance(exc, Conflict):
        if exc.holder:
            return f"操作未完成：该任务已由 {exc.holder} 认领或办理。（{exc}）"
        return f"操作未完成：任务状态已变化，请刷新。（{exc}）"
    if isinstance(exc, Forbidden):
        return f"无权操作：{exc}"
    if isinstance(exc, Invalid):
        return f"填写有误：{exc}"
    return str(exc)


def _act(task_id: str, action, entered: dict | None = None, then: str = "task"):
    """Run one transition; on a refusal show the task again with why (and who holds it)."""
    actor = current_actor()
    try:
        with unit_of_work() as uow:
            result = action(uow, actor)
    except (Conflict, Forbidden, Invalid) as exc:
        problems = exc.problems if isinstance(exc, Invalid) else []
        return _render_task(task_id, actor, status=exc.status, message=_message(exc), problems=problems,
                            entered=entered)
    if then == "case":
        return redirect(url_for("worklist_pages.case", case_no=result))
    return redirect(url_for("worklist_pages.task", task_id=task_id))


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/tasks/<task_id>")
@guard(TASK)
def task(task_id: str):
    return _render_task(task_id, current_actor())


@bp.post("/tasks/<task_id>/claim")
@guard(TASK)
def claim(task_id: str):
    return _act(task_id, lambda uow, actor: transitions.claim(uow, task_id, actor, _version()))


@bp.post("/tasks/<task_id>/unclaim")
@guard(TASK)
def unclaim(task_id: str):
    return _act(task_id, lambda uow, actor: transitions.unclaim(uow, task_id, actor, _version()))


@bp.post("/tasks/<task_id>/complete")
@guard(TASK)
def complete(task_id: str):
    actor = current_actor()
    with reading() as s:
        task = transitions.visible_task(s, task_id, actor)
        schema = transitions.schema_for(s, task)
    if schema is not None:
        data = forms.from_form(schema, request.form)
    else:  # no form declared: approve with a comment
        data = {"outcome": "approve"}
        if request.form.get("comment", "").strip():
            data["comment"] = request.form["comment"].strip()
    return _act(task_id, lambda uow, a: transitions.complete(uow, task_id, data, a, _version()).case_no,
                entered=data, then="case")


@bp.post("/tasks/<task_id>/send-back")
@guard(TASK)
def send_back(task_id: str):
    reason = request.form.get("reason", "")
    return _act(task_id, lambda uow, a: transitions.send_back(uow, task_id, reason, a, _version()).case_no,
                then="case")


@bp.post("/tasks/<task_id>/delegate")
@guard(TASK)
def delegate(task_id: str):
    to, reason = request.form.get("to", ""), request.form.get("reason", "")
    return _act(task_id, lambda uow, a: transitions.delegate(uow, task_id, to, a, reason, _version()))


@bp.post("/tasks/<task_id>/reassign")
@guard(TASK)
def reassign(task_id: str):
    to, reason = request.form.get("to", ""), request.form.get("reason", "")
    return _act(task_id, lambda uow, a: transitions.reassign(uow, task_id, to, a, reason, _version()))


@bp.get("/cases/<case_no>")
@guard(CASE)
def case(case_no: str):
    with reading() as s:
        row = cases.case_by_no(s, case_no)
        view = cases.case_view(s, row)
        drawn = diagram.case_diagram(s, row)  # where it stands, as a list for a page without script
    return render_template("worklists/case.html", case=view, steps=diagram.step_list(drawn) if drawn else [])
