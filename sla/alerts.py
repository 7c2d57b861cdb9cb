"""Alerts: raised once per (case, step, level, rule) by a database constraint, then delivered.

Raising is ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: however many sweepers or handlers try at
the same instant, one row exists and only the inserter creates its deliveries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from engine import clock as engine_clock
from engine.db import UnitOfWork
from engine.errors import Forbidden, NotFound
from engine.identity import Actor, members_of, supervisors_of
from engine.models import Case, Task, User
from engine.privacy import mask_text
from sla import runtime
from sla.escalation import Escalation
from sla.models import CASE_STEP, Alert, AlertDelivery, Clock

LEVEL_WORDS = {"yellow": "黄牌预警 / due soon", "red": "红牌警告 / overdue"}


def candidates(clock: Clock, level: str, overdue: int, escalation: Escalation) -> list[dict[str, Any]]:
    """The alerts the chain calls for at ``level`` (not yet checked against those already raised)."""
    if level not in ("yellow", "red"):
        return []
    return [{"clock": clock, "rule": rule} for rule in escalation.rules_for(level, overdue)]


def _insert(uow: UnitOfWork):
    return (postgresql.insert if uow.is_postgres else sqlite.insert)(Alert)


def raise_alerts(uow: UnitOfWork, wanted: list[dict[str, Any]]) -> tuple[list[int], int]:
    """Insert the alerts not raised yet and their deliveries.

    Returns the deliveries to send after commit and the number of alerts this call raised.
    """
    session = uow.session
    rt = runtime.current
    now = engine_clock.now()
    case_ids = {w["clock"].case_id for w in wanted}
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))}
    rows, by_key = [], {}
    for w in wanted:
        cl: Clock = w["clock"]
        rule = w["rule"]
        case = cases.get(cl.case_id)
        if case is None:
            continue
        key = (cl.case_id, cl.step, cl.level, rule.id)
        if key in by_key:
            continue
        by_key[key] = w
        rows.append({
            "case_id": cl.case_id, "case_no": case.case_no or "", "step": cl.step, "element_id": cl.element_id,
            "group": cl.group, "service_code": cl.service_code or case.service_code, "level": cl.level,
            "rule_id": rule.id, "rule_version": rt.escalation.version, "due_date": cl.due_date,
            "message": message(case, cl), "state": "open", "raised_at": now,
        })
    if not rows:
        return [], 0
    stmt = _insert(uow).values(rows).on_conflict_do_nothing(
        index_elements=["case_id", "step", "level", "rule_id"]
    ).returning(Alert.id, Alert.case_id, Alert.step, Alert.level, Alert.rule_id)
    inserted = session.execute(stmt).all()
    cache: dict[tuple[str, str], list[str]] = {}
    deliveries: list[dict[str, Any]] = []
    for alert_id, case_id, step, level, rule_id in inserted:
        w = by_key[(case_id, step, level, rule_id)]
        for channel in w["rule"].channels:
            for recipient in _recipients(session, w["clock"], w["rule"].notify, channel, cache):
                deliveries.append({"alert_id": alert_id, "channel": channel, "recipient": recipient,
                                   "state": "sent" if channel == "inbox" else "pending", "attempts": 0,
                                   "sent_at": now if channel == "inbox" else None})
    if not deliveries:
        return [], len(inserted)
    ins = (postgresql.insert if uow.is_postgres else sqlite.insert)(AlertDelivery)
    sent = session.execute(ins.values(deliveries).on_conflict_do_nothing().returning(
        AlertDelivery.id, AlertDelivery.channel)).all()
    return [i for i, channel in sent if channel != "inbox"], len(inserted)


def message(case: Case, clock: Clock) -> str:
    """What the alert says; the applicant's name and any ID or phone number are masked."""
    subject = mask_text(case.subject or "")
    if len(subject) > 1:
        subject = subject[0] + "*" * (len(subject) - 1)
    what = "办件" if clock.step == CASE_STEP else f"环节 {clock.element_id}"
    return (f"{case.case_no} {what} {LEVEL_WORDS.get(clock.level, clock.level)}: 期限 {clock.due_date} "
            f"({clock.group or '-'}; {subject or '-'})")


def _who(session, clock: Clock, notify: str, cache: dict) -> list[str]:
    if notify == "director":
        return list(runtime.current.escalation.director)
    if notify == "supervisors":
        key = ("sup", clock.group or "")
        if key not in cache:
            cache[key] = [u.username for u in supervisors_of(session, clock.group)] if clock.group else []
        return cache[key]
    if clock.step != CASE_STEP:
        task = session.get(Task, clock.step)
        if task is not None and task.assignee:
            return [task.assignee]
        group = task.group if task is not None else clock.group
    else:
        assignees = sorted({t for t in session.scalars(select(Task.assignee).where(
            Task.case_id == clock.case_id, Task.state.in_(("open", "claimed")))) if t})
        if assignees:
            return assignees
        group = clock.group
    key = ("members", group or "")
    if key not in cache:
        cache[key] = members_of(session, group) if group else []
    return cache[key]


def _recipients(session, clock: Clock, notify: str, channel: str, cache: dict) -> list[str]:
    people = _who(session, clock, notify, cache)
    if channel == "inbox":
        return people
    if channel == "webhook":
        return [runtime.current.webhook_url] if runtime.current.webhook_url else []
    if not runtime.current.smtp_url or not people:
        return []
    key = ("email", ",".join(people))
    if key not in cache:
        cache[key] = [e for e in session.scalars(select(User.email).where(User.username.in_(people))) if e]
    return cache[key]


def alert_dict(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id, "case_no": a.case_no, "step": a.step or None, "element_id": a.element_id, "group": a.group,
        "service": a.service_code, "level": a.level, "rule": a.rule_id, "rule_version": a.rule_version,
        "due_date": a.due_date.isoformat() if a.due_date else None, "message": a.message, "state": a.state,
        "raised_at": a.raised_at.isoformat(), "acked_by": a.acked_by,
        "acked_at": a.acked_at.isoformat() if a.acked_at else None,
    }


def visible(session, actor: Actor, state: str | None = None, limit: int = 200) -> list[Alert]:
    """Alerts in the actor's inbox (an administrator sees all)."""
    stmt = select(Alert)
    if not actor.is_admin:
        mine = select(AlertDelivery.alert_id).where(AlertDelivery.channel == "inbox",
                                                    AlertDelivery.recipient == actor.username)
        stmt = stmt.where(Alert.id.in_(mine))
    if state:
        stmt = stmt.where(Alert.state == state)
    return list(session.scalars(stmt.order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)))


def acknowledge(uow: UnitOfWork, alert_id: int, actor: Actor) -> Alert:
    """Acknowledge an alert in one's inbox (or one's supervised group's); a second ack is a no-op."""
    alert = uow.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    mine = uow.session.scalar(select(AlertDelivery.id).where(
        AlertDelivery.alert_id == alert_id, AlertDelivery.channel == "inbox",
        AlertDelivery.recipient == actor.username).limit(1))
    if mine is None and not actor.is_admin and not actor.supervises_group(alert.group):
        raise Forbidden("this alert is not addressed to you")
    if alert.state != "acked":
        alert.state, alert.acked_by, alert.acked_at = "acked", actor.username, engine_clock.now()
    return alert
