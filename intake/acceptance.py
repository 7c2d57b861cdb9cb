"""The front desk's two tasks: the acceptance decision (受理审查) and issuance (出件).

Which task is which is read from the application, not from element ids: the first front-desk
task a case opens is its intake task (its completion data carries ``decision``, ``reason``,
``missing``); any later front-desk task is issuance. So any process whose first front-desk task
writes these works with intake. The fields, their types and choices are the tasks' forms
(bpmn/forms/intake.json and issue.json), which the engine checks first; what is checked here needs
the catalog and the case: which materials the item requires, which codes exist, the case's decision.
The checks run inside ``engine.cases.complete`` (registered in ``init_app``), so a completion through
the worklists API is checked exactly like one through the front-desk pages.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from engine import cases, clock, events, forms, office, policy
from engine.db import Database, UnitOfWork
from engine.errors import Conflict, Invalid, NotFound, Problem
from engine.identity import Actor
from engine.models import Case, Task
from intake import catalog_store
from intake.dates import add_working_days
from intake.models import Application

RESULTS = ("approved", "refused")
DEFAULT_REASONS = {"accept": "申请材料齐全、符合法定形式，予以受理。",
                   "correction": "申请材料不齐全或者不符合法定形式"}
DEEMED_REASON = "逾期未作出受理决定，依法自收到申请材料之日起即为受理。"
log = logging.getLogger(__name__)
DEEMED_AFTER_WORKING_DAYS = 5
REASON_MAX = 1000


def _text(value: Any, limit: int = REASON_MAX) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def missing_required(application: Application) -> list[tuple[str, str]]:
    """The item's required materials (not the conditional ones) the application does not hold."""
    have = {m.code for m in application.materials}
    return [(m["code"], m["name"]) for m in application.item.data["materials"]
            if m["required"] and m["code"] not in have]


def check_acceptance(application: Application, data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise the intake task's completion data against the catalog. Raises Invalid
    naming fields: an acceptance while a required material is missing names each material."""
    problems: list[Problem] = []
    decision = data.get("decision")
    reason = _text(data.get("reason"))
    redirect = _text(data.get("redirect_office"), 200)
    missing: list[str] = []
    known = catalog_store.material_names(application.item)
    for i, code in enumerate(data.get("missing") or []):
        if not isinstance(code, str) or code not in known:
            problems.append(Problem(f"事项 {application.service_code} 没有材料 {code!r} / "
                                    f"not a material of item {application.service_code}", field=f"missing[{i}]"))
        elif code not in missing:
            missing.append(code)
    if decision == "reject" and not reason:
        problems.append(Problem("不予受理须说明理由及应向何处申请 / a refusal needs a reason", field="reason"))
    if decision == "correction":
        if not missing and not problems:
            problems.append(Problem("补正须一次性列明全部所缺材料 / list every missing material at once",
                                    field="missing"))
        # 一次性告知: a correction that leaves out a missing required material would need a second one
        problems += [Problem(f"一次性告知：还缺少必需材料“{name}”，须一并列明 / required material {code} is missing "
                             f"too: list it in this correction", field="missing")
                     for code, name in missing_required(application) if missing and code not in missing]
        if application.deemed_accepted_on is not None:
            problems.append(Problem(
                f"已于 {application.deemed_accepted_on} 视为受理，不能再要求补正 / deemed accepted "
                f"on {application.deemed_accepted_on}: a correction can no longer be asked", field="decision"))
    if decision == "accept" and missing:
        problems.append(Problem("受理时不应列出所缺材料 / an acceptance lists nothing missing", field="missing"))
    if decision == "accept" and application.deemed_accepted_on is None:
        # 材料不齐不得受理：一次性告知补正 (a deemed acceptance stands by law, whatever is missing)
        problems += [Problem(f"缺少必需材料“{name}”，不能受理，请一次性告知补正 / required material {code} is "
                             f"missing: ask for a correction (补正) instead", field=f"materials.{code}")
                     for code, name in missing_required(application)]
    if problems:
        raise Invalid("invalid acceptance decision", problems)
    out = {k: v for k, v in data.items() if k not in ("decision", "reason", "missing", "redirect_office")}
    out.update({"decision": decision, "reason": reason or "", "missing": missing})
    if redirect:
        out["redirect_office"] = redirect
    if not reason:  # the reason is signed as the 受理意见 of the 审批表: never blank
        deemed = decision == "accept" and application.deemed_accepted_on is not None
        out["reason"] = DEEMED_REASON if deemed else DEFAULT_REASONS.get(decision, "")
    return out


def check_issuance(result: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """Check the issuance task's data against the case's decision ``result`` (made at 批准, never
    given here): certificate, delivery, tracking, hand-over time."""
    problems: list[Problem] = []
    if result not in RESULTS:
        raise Conflict("本案尚无许可决定，不能出件 / the case has no decision to issue")
    delivery = data.get("delivery")
    certificate = _text(data.get("certificate_no"), 64)
    if result == "approved" and not certificate:
        problems.append(Problem("准予许可须填写证照编号 / a certificate number is required", field="certificate_no"))
    tracking = _text(data.get("tracking_no"), 64)
    if delivery == "post" and not tracking:
        problems.append(Problem("邮寄须填写快递单号 / a tracking number is required for post", field="tracking_no"))
    handed = data.get("handed_over_at")
    handed_at: datetime | None = clock.now()
    if handed not in (None, ""):
        try:
            handed_at = clock.parse_instant(str(handed))
        except ValueError:
            problems.append(Problem("an ISO 8601 date-time", field="handed_over_at"))
            handed_at = None
        else:
            if handed_at > clock.now():
                problems.append(Problem("must not be in the future", field="handed_over_at"))
    if problems:
        raise Invalid("invalid issuance data", problems)
    out = {k: v for k, v in data.items() if k not in ("delivery", "certificate_no", "tracking_no", "handed_over_at")}
    out.update({"delivery": delivery, "certificate_no": certificate or "",
                "tracking_no": tracking or "", "handed_over_at": handed_at.isoformat() if handed_at else None})
    return out


def decided_result(session, case_id: int) -> str | None:
    """The case's decision (``result``) as the engine wrote it from the deciding step (caseDecision)."""
    for task in session.scalars(select(Task).where(Task.case_id == case_id, Task.state == "completed")
                                .order_by(Task.completed_at.desc(), Task.id)):
        value = (task.data or {}).get("result")
        if value:
            return value
    return None


def completion_check(uow: UnitOfWork, case: Case, task: Task, data: dict[str, Any],
                     actor: Actor) -> dict[str, Any] | None:
    """The engine's completion hook: check front-desk tasks of cases that came through intake."""
    if task.group != policy.FRONT_DESK:
        return None
    application = uow.session.scalar(select(Application).where(Application.case_id == case.id))
    if application is None:
        return None
    if task.element_id == application.intake_element:
        return check_acceptance(application, data)
    return check_issuance(decided_result(uow.session, case.id), data)


def decision_choices(session, application: Application) -> list[tuple[str, str]]:
    """The acceptance decisions the open intake task's form offers, as (value, label) for the page."""
    task = intake_task(session, application)
    if task is None:
        return []
    form = forms.step_form(session, session.get(Case, task.case_id).definition_id, task.element_id, task.properties)
    return forms.choices(((form.schema or {}).get("properties") or {}).get("decision"))


def _open_task(session, application: Application, *, issuance: bool) -> Task:
    stmt = select(Task).where(Task.case_id == application.case_id, Task.group == policy.FRONT_DESK,
                              Task.state.in_(cases.OPEN_STATES))
    for task in session.scalars(stmt.order_by(Task.created_at, Task.id)):
        if (task.element_id == application.intake_element) != issuance:
            return task
    what = "an issuance" if issuance else "an acceptance decision"
    raise Conflict(f"case {application.case_no} is not waiting for {what}")


def intake_task(session, application: Application) -> Task | None:
    try:
        return _open_task(session, application, issuance=False)
    except Conflict:
        return None


def issuance_task(session, application: Application) -> Task | None:
    try:
        return _open_task(session, application, issuance=True)
    except Conflict:
        return None


def _application(session, case_no: str) -> Application:
    application = session.scalar(select(Application).where(Application.case_no == case_no))
    if application is None:
        raise NotFound(f"no application with case number {case_no}")
    return application


def decide(uow: UnitOfWork, case_no: str, data: dict[str, Any], actor: Actor,
           expected_version: int | None = None) -> Case:
    """Complete the open intake task with a decision. Raises Invalid, Conflict, Forbidden."""
    application = _application(uow.session, case_no)
    task = _open_task(uow.session, application, issuance=False)
    return cases.complete(uow, task.id, data, actor, expected_version)


def issue(uow: UnitOfWork, case_no: str, data: dict[str, Any], actor: Actor,
          expected_version: int | None = None) -> Case:
    """Complete the open issuance task: the case closes with its outcome."""
    application = _application(uow.session, case_no)
    task = _open_task(uow.session, application, issuance=True)
    return cases.complete(uow, task.id, data, actor, expected_version)


def deemed_due(application: Application) -> date | None:
    """The last day the front desk may still decide; from the next day the case counts as accepted."""
    due, _provisional = add_working_days(application.intake_since, DEEMED_AFTER_WORKING_DAYS)
    return due


def deem_accepted(uow: UnitOfWork, application_id: int, today: date) -> bool:
    """Record one application as accepted on the day its materials arrived (5-working-day rule)."""
    application = uow.session.get(Application, application_id)
    if application is None or application.deemed_accepted_on is not None:
        return False
    case = cases.open_case(uow, application.case_no).case
    if case.status != "running" or intake_task(uow.session, application) is None:
        return False
    due = deemed_due(application)
    if due is None or today <= due:
        return False
    accepted_on = application.intake_since
    application.deemed_accepted_on = accepted_on
    if case.accepted_on is None:
        case.accepted_on = accepted_on
    events.record(uow, case.id, "deemed_accepted", actor="system", data={
        "accepted_on": accepted_on.isoformat(), "decide_by": due.isoformat(),
        "rule": f"{DEEMED_AFTER_WORKING_DAYS} working days without a decision"})
    uow.session.flush()
    return True


def deemed_acceptance_tick(db: Database, now: datetime) -> dict:
    """Tick hook: every intake task left undecided too long counts as accepted from receipt."""
    today = now.astimezone(office.zone).date()
    with db.read() as s:
        ids = list(s.scalars(
            select(Application.id).join(Case, Case.id == Application.case_id)
            .join(Task, (Task.case_id == Application.case_id) & (Task.element_id == Application.intake_element))
            .where(Application.deemed_accepted_on.is_(None), Case.status == "running",
                   Task.state.in_(cases.OPEN_STATES), Application.intake_since < today)
            .distinct()))
    deemed, failed = 0, 0
    for application_id in ids:
        try:  # one broken case must not stop the rest
            with db.unit_of_work() as uow:
                deemed += deem_accepted(uow, application_id, today)
        except Exception:
            failed += 1
            log.exception("deemed acceptance of application %s failed", application_id)
    return {"deemed_accepted": deemed, **({"failed": failed} if failed else {})}
