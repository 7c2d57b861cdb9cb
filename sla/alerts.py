"""Alerts: raised once per (case, step, level, rule) by a database constraint, then delivered.

Raising is ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: however many sweepers or handlers try at
the same instant, one row exists and only the inserter creates its deliveries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from engine import clock as engine_clock
from engine import policy
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


def _insert(uow: UnitOfWork, table):
    return (postgresql.insert if uow.is_postgres else sqlite.insert)(table)


def raise_alerts(uow: UnitOfWork, wanted: list[dict[str, Any]]) -> tuple[list[int], int]:
    """Insert the alerts not raised yet and their deliveries.

    Returns the deliveries to send after commit and the number of alerts this call raised.
    """
    session = uow.session
    rt = runtime.current
    now = engine_clock.now()
    case_ids = {w["clock"].case_id for w in wanted}
    # Only the columns an alert needs: never the workflow state.
    cases = {c.id: c for c in session.execute(select(Case.id, Case.case_no, Case.subject, Case.service_code)
                                              .where(Case.id.in_(case_ids)))}
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
    table = Alert.__table__
    returning = (table.c.id, table.c.case_id, table.c.step, table.c.level, table.c.rule_id)
    if uow.is_postgres:
        inserted = _insert_unnest(session, table, rows, "(case_id, step, level, rule_id)", returning)
    else:
        stmt = _insert(uow, table).on_conflict_do_nothing(
            index_elements=["case_id", "step", "level", "rule_id"]).returning(*returning)
        inserted = [tuple(r) for r in session.execute(stmt, rows).all()]
    cache: dict[tuple[str, str], list[str]] = {}
    _prefetch_handlers(session, [by_key[(c, st, lv, r)]["clock"] for _i, c, st, lv, r in inserted], cache)
    told = _already_told(session, {(c, st, lv) for _i, c, st, lv, _r in inserted})
    deliveries: list[dict[str, Any]] = []
    for alert_id, case_id, step, level, rule_id in inserted:
        w = by_key[(case_id, step, level, rule_id)]
        for channel in w["rule"].channels:
            for addressee, recipient in _recipients(session, w["clock"], w["rule"].notify, channel, cache):
                key = (case_id, step, level, channel, addressee)
                if addressee is not None and key in told:
                    continue  # this person already heard of this step at this level
                told.add(key)
                deliveries.append({"alert_id": alert_id, "channel": channel, "recipient": recipient,
                                   "addressee": addressee, "case_id": case_id, "step": step, "level": level,
                                   "state": "sent" if channel == "inbox" else "pending", "attempts": 0,
                                   "sent_at": now if channel == "inbox" else None})
    if not deliveries:
        return [], len(inserted)
    table = AlertDelivery.__table__
    if uow.is_postgres:
        # only the transaction that inserted an alert creates its deliveries; a person told of the same
        # (case, step, level) by a sweep running at this instant is skipped by the addressee constraint
        sent = _insert_unnest(session, table, deliveries, "", (table.c.id, table.c.channel))
    else:
        sent = session.execute(_insert(uow, table).on_conflict_do_nothing().returning(
            table.c.id, table.c.channel), deliveries).all()
    return [i for i, channel in sent if channel != "inbox"], len(inserted)


def _insert_unnest(session, table, rows: list[dict[str, Any]], conflict: str | None, returning) -> list[tuple]:
    """PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) [ON CONFLICT ... DO NOTHING] RETURNING.

    One parameter per column instead of one per value: a thousand alerts are one short statement.
    """
    names = list(rows[0])
    casts = ", ".join(f"CAST(:c{i} AS {table.c[n].type.compile(dialect=postgresql.dialect())}[])"
                      for i, n in enumerate(names))
    columns = ", ".join(f'"{n}"' for n in names)
    back = ", ".join(f'"{c.name}"' for c in returning)
    on_conflict = f"ON CONFLICT {conflict} DO NOTHING " if conflict is not None else ""
    sql = text(f"INSERT INTO {table.name} ({columns}) SELECT * FROM unnest({casts}) {on_conflict}RETURNING {back}")
    params = {f"c{i}": [r[n] for r in rows] for i, n in enumerate(names)}
    return [tuple(r) for r in session.execute(sql, params).all()]


def message(case, clock: Clock) -> str:
    """What the alert says; the applicant's name and any ID or phone number are masked."""
    subject = mask_text(case.subject or "")
    if len(subject) > 1:
        subject = subject[0] + "*" * (len(subject) - 1)
    what = "办件" if clock.step == CASE_STEP else f"环节 {clock.element_id}"
    return (f"{case.case_no} {what} {LEVEL_WORDS.get(clock.level, clock.level)}: 期限 {clock.due_date} "
            f"({clock.group or '-'}; {subject or '-'})")


def _prefetch_handlers(session, clocks: list[Clock], cache: dict) -> None:
    """Who handles each clock, in two queries for the whole batch (not one per alert)."""
    steps = {c.step for c in clocks if c.step != CASE_STEP}
    case_ids = {c.case_id for c in clocks if c.step == CASE_STEP}
    for task_id, assignee, group in session.execute(select(Task.id, Task.assignee, Task.group)
                                                    .where(Task.id.in_(steps))) if steps else ():
        cache[("task", task_id)] = [assignee] if assignee else [f"group:{group}"]
    for case_id in case_ids:
        cache[("case", str(case_id))] = []
    if case_ids:
        for case_id, assignee in session.execute(select(Task.case_id, Task.assignee).where(
                Task.case_id.in_(case_ids), Task.state.in_(("open", "claimed")), Task.assignee.is_not(None))):
            cache[("case", str(case_id))].append(assignee)


def _who(session, clock: Clock, notify: str, cache: dict) -> list[str]:
    if notify == "director":
        return list(runtime.current.escalation.director)
    if notify == "supervisors":
        key = ("sup", clock.group or "")
        if key not in cache:
            cache[key] = [u.username for u in supervisors_of(session, clock.group)] if clock.group else []
        return cache[key]
    if clock.step != CASE_STEP:
        found = cache.get(("task", clock.step), [f"group:{clock.group}"])
        if not found[0].startswith("group:"):
            return found
        group = found[0][len("group:"):] or None
    else:
        assignees = sorted(set(cache.get(("case", str(clock.case_id)), [])))
        if assignees:
            return assignees
        group = clock.group
    key = ("members", group or "")
    if key not in cache:
        cache[key] = members_of(session, group) if group else []
    return cache[key]


def _already_told(session, keys: set[tuple[int, str, str]]) -> set[tuple]:
    """(case, step, level, channel, person) of the deliveries already made for these (case, step, level)."""
    if not keys:
        return set()
    t = AlertDelivery.__table__
    rows = session.execute(select(t.c.case_id, t.c.step, t.c.level, t.c.channel, t.c.addressee).where(
        t.c.case_id.in_({c for c, _s, _l in keys}), t.c.addressee.is_not(None)))
    return {tuple(r) for r in rows if (r[0], r[1], r[2]) in keys}


def _recipients(session, clock: Clock, notify: str, channel: str, cache: dict) -> list[tuple[str | None, str]]:
    """(person, address) for each delivery on ``channel``: a webhook names no person."""
    people = _who(session, clock, notify, cache)
    if channel == "inbox":
        return [(p, p) for p in people]
    if channel == "webhook":
        return [(None, runtime.current.webhook_url)] if runtime.current.webhook_url else []
    if not runtime.current.smtp_url or not people:
        return []
    key = ("email", ",".join(people))
    if key not in cache:
        cache[key] = [(name, email) for name, email in session.execute(
            select(User.username, User.email).where(User.username.in_(people))) if email]
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
    """Alerts in the actor's inbox and every alert of the groups they supervise (an administrator sees
    all), one per (case, step, level): the first raised of those in ``state``."""
    stmt = select(func.min(Alert.id))
    if not policy.sees_every_alert(actor):
        mine = select(AlertDelivery.alert_id).where(AlertDelivery.channel == "inbox",
                                                    AlertDelivery.recipient == actor.username)
        supervised = policy.alert_groups(actor)
        stmt = stmt.where(Alert.id.in_(mine) | Alert.group.in_(supervised) if supervised else Alert.id.in_(mine))
    if state:
        stmt = stmt.where(Alert.state == state)
    first = stmt.group_by(Alert.case_id, Alert.step, Alert.level)
    return list(session.scalars(select(Alert).where(Alert.id.in_(first))
                                .order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)))


def acknowledge(uow: UnitOfWork, alert_id: int, actor: Actor) -> Alert:
    """Acknowledge an alert in one's inbox (or one's supervised group's), and with it every alert of
    the same case, step and level still open (they are one warning); a second ack is a no-op."""
    alert = uow.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    mine = uow.session.scalar(select(AlertDelivery.id).where(
        AlertDelivery.alert_id == alert_id, AlertDelivery.channel == "inbox",
        AlertDelivery.recipient == actor.username).limit(1))
    if not policy.may_acknowledge_alert(actor, addressed_to_actor=mine is not None, group=alert.group):
        raise Forbidden("this alert is not addressed to you")
    now = engine_clock.now()
    for same in uow.session.scalars(select(Alert).where(
            Alert.case_id == alert.case_id, Alert.step == alert.step, Alert.level == alert.level,
            Alert.state != "acked")):
        same.state, same.acked_by, same.acked_at = "acked", actor.username, now
    return alert


def figures(db) -> list:
    """For /metrics: alerts raised so far and those still open, per level (read at scrape time)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    raised = CounterMetricFamily("onewindow_alerts_raised", "SLA alerts raised, per level", labels=["level"])
    still_open = GaugeMetricFamily("onewindow_alerts_open", "SLA alerts not acknowledged yet, per level",
                                   labels=["level"])
    with db.read() as s:
        rows = s.execute(select(Alert.level, Alert.state, func.count()).group_by(Alert.level, Alert.state)).all()
        # a step clock still running for a task that has ended never stops and turns red later: a
        # handler missed an event (what issue 13's false escalations came from); 0 is the only good value
        orphaned = s.scalar(select(func.count()).select_from(Clock).join(Task, Task.id == Clock.step).where(
            Clock.state.in_(("running", "paused")), Task.state.in_(("completed", "cancelled"))))
    totals: dict[str, int] = {}
    opened: dict[str, int] = {}
    for level, state, count in rows:
        totals[level] = totals.get(level, 0) + count
        if state == "open":
            opened[level] = opened.get(level, 0) + count
    for level in ("yellow", "red"):
        raised.add_metric([level], totals.get(level, 0))
        still_open.add_metric([level], opened.get(level, 0))
    stray = GaugeMetricFamily("onewindow_sla_step_clocks_running_for_ended_tasks",
                              "Step clocks still running although their task has ended (should be 0)",
                              value=orphaned or 0)
    return [raised, still_open, stray]
