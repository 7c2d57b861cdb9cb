"""The front desk's pages (综合窗口): register an application with the catalog's checklist, decide
acceptance, print notices, issue results, look a case up. Server-rendered, zh-CN."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from engine import cases, policy
from engine.access import FRONT_DESK, FRONT_DESK_CASE, guard
from engine.audit import Purpose
from engine.errors import Invalid, NotFound
from engine.inputs import accepts_uploads
from engine.models import Task
from engine.privacy import mask_id_number
from engine.web import audited, client_address, current_actor, reading, unit_of_work
from intake import acceptance, applications, catalog_store, personal, views
from intake.identity import ApplicantKind
from intake.models import Application
from intake.requests import from_form, parse_application

bp = Blueprint("intake_pages", __name__, template_folder="templates", url_prefix="/window")

KIND_LABELS = [(ApplicantKind.PERSON.value, "自然人（公民身份号码）"),
               (ApplicantKind.ORGANIZATION.value, "法人和其他组织（统一社会信用代码）")]
EVENT_LABELS = {
    "case_started": "案件创建", "application_received": "收件登记", "applicant_override": "校验位放行",
    "task_created": "任务生成", "task_claimed": "认领", "task_unclaimed": "退回队列", "task_completed": "办理完成",
    "task_cancelled": "任务取消", "message_received": "收到申请人消息", "materials_resubmitted": "补正材料已提交",
    "deemed_accepted": "逾期未决定，视为受理", "element_completed": "环节完成", "case_waiting": "等待申请人",
    "case_resumed": "继续办理", "timer_fired": "时限到期", "case_ended": "办结", "rated": "申请人评价",
    "case_cancelled": "撤销", "task_sent_back": "退回",
}
NOTICE_LABELS = {"receipt": "收件凭证", "acceptance": "受理通知书", "refusal": "不予受理通知书",
                 "correction": "补正材料通知书", "approval_form": "审批表", "decision": "许可决定书",
                 "delivery_receipt": "送达回证"}


def _settings():
    return current_app.config["ONEWINDOW"]


@bp.get("/")
@guard(FRONT_DESK)
def window():
    actor = current_actor()
    with reading() as s:
        items = catalog_store.current_items(s)
        open_rows = s.execute(
            select(Task, Application).join(Application, Application.case_id == Task.case_id)
            .where(Task.group == policy.FRONT_DESK, Task.state.in_(cases.OPEN_STATES))
            .order_by(Task.created_at, Task.id).limit(100)).all()
        to_decide = [(t, a) for t, a in open_rows if t.element_id == a.intake_element]
        to_issue = [(t, a) for t, a in open_rows if t.element_id != a.intake_element]
        recent = [(a, views.applicant_dict(a, False)) for a in views.recent(s)]
        return render_template("intake/window.html", items=items, to_decide=to_decide, to_issue=to_issue,
                               recent=recent, actor=actor, mask=mask_id_number)


@bp.get("/lookup")
@guard(FRONT_DESK)
def lookup():
    case_no = (request.args.get("case_no") or "").strip()
    if not case_no:
        return redirect(url_for("intake_pages.window"))
    with reading() as s:
        applications.application_for(s, case_no)
    return redirect(url_for("intake_pages.case", case_no=case_no))


@bp.get("/apply")
@guard(FRONT_DESK)
def apply_form():
    code = request.args.get("service", "")
    id_number = (request.args.get("id_number") or "").strip().upper()
    actor = current_actor()
    with audited() as uow:
        row = catalog_store.current(uow.session, code)
        guide = catalog_store.guide(row)
        on_file = {}
        applicant = applications.applicant_by_number(uow.session, id_number) if id_number else None
        if applicant is not None:
            found = applications.reusable_on_file(uow.session, applicant.id, row)
            on_file = {c: m.application.case_no for c, m in found.items()}
            personal.looked_up(uow, actor, applicant, client_address(), f"materials on file for {row.code}")
    return render_template("intake/apply.html", item=row, guide=guide, on_file=on_file,
                           id_number=id_number, kinds=KIND_LABELS, kind=request.args.get("kind", "person"))


@bp.post("/apply")
@guard(FRONT_DESK)
@accepts_uploads
def apply_submit():
    body = from_form(request.form, request.files)
    parsed = parse_application(body, _settings().max_upload_bytes)
    with unit_of_work() as uow:
        received = applications.receive(uow, parsed, current_actor(), _settings().upload_dir)
    return redirect(url_for("intake_pages.case", case_no=received.case_no, registered=1))


@bp.get("/cases/<case_no>")
@guard(FRONT_DESK_CASE)
def case(case_no: str):
    actor = current_actor()
    with audited() as uow:
        s = uow.session
        application = applications.application_for(s, case_no)
        whole = personal.disclose(uow, actor, application, Purpose.CASE_HANDLING, client_address(),
                                  "window case page")
        view = views.application_view(s, application, whole=whole)
        history = cases.case_view(s, s.get(cases.Case, application.case_id), with_data=False)["history"]
        materials = application.item.data["materials"]
        decisions = acceptance.decision_choices(s, application)
    return render_template("intake/case.html", a=view, materials=materials, history=history,
                           decisions=decisions, notice_labels=NOTICE_LABELS, event_labels=EVENT_LABELS,
                           registered=request.args.get("registered") == "1")


def _form_data(keys: tuple[str, ...]) -> dict:
    return {k: request.form.get(k) for k in keys if request.form.get(k) not in (None, "")}


@bp.post("/cases/<case_no>/acceptance")
@guard(FRONT_DESK_CASE)
def decide(case_no: str):
    data = _form_data(("decision", "reason", "redirect_office"))
    data["missing"] = request.form.getlist("missing")
    with unit_of_work() as uow:
        acceptance.decide(uow, case_no, data, current_actor())
    return redirect(url_for("intake_pages.case", case_no=case_no))


@bp.post("/cases/<case_no>/issuance")
@guard(FRONT_DESK_CASE)
def issue(case_no: str):
    data = _form_data(("certificate_no", "delivery", "tracking_no", "handed_over_at"))
    if "handed_over_at" in data and len(data["handed_over_at"]) == 16:  # <input type=datetime-local>
        data["handed_over_at"] = data["handed_over_at"] + ":00+08:00"
    with unit_of_work() as uow:
        acceptance.issue(uow, case_no, data, current_actor())
    return redirect(url_for("intake_pages.case", case_no=case_no))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return render_template("error.html", status=404, title="未找到 / Not found", detail=str(exc),
                           problems=[]), 404


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid):
    return render_template("error.html", status=422, title="输入有误 / Invalid input", detail=str(exc),
                           problems=[p.as_dict() for p in exc.problems]), 422
