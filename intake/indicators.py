"""intake's counts for the director's dashboard (``engine.indicators``): applications (channel,
visits, materials taken from the office's records), ratings (好差评), the catalog, bad ratings' follow-ups.

docs/sla.md defines every measure: what is counted, on which date, in which week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select

from engine import office
from engine.indicators import Count, Weeks, add_listing, add_source
from engine.models import Case, Task
from intake import catalog_store
from intake.feedback import GRADES
from intake.models import Application, ApplicationMaterial, CatalogItem, Rating

# Channels on which the applicant never came to the office to apply (一网通办).
ONLINE_CHANNELS = ("online", "mobile")
# Material sources the office took from its own records instead of the applicant (三个不得): today
# an earlier application's file; a certificate from the e-licence library is one more source here.
FROM_RECORDS = ("reused",)
# Sources counted as the case's materials at receipt (a correction's resubmission is not a new need).
AT_RECEIPT = ("given", "paper", "reused")


def visits(channel: str, item_visits: int) -> int:
    """Visits a case costs the applicant (跑动次数): the item's visits (as the catalog publishes them);
    an application made at the window is at least that one visit."""
    return item_visits if channel in ONLINE_CHANNELS else max(item_visits, 1)


def _bounds(weeks: Weeks) -> tuple[datetime, datetime]:
    """The weeks as instants (office midnight to office midnight), for timestamps stored in UTC."""
    return (datetime.combine(weeks.first, time(), office.zone), datetime.combine(weeks.end, time(), office.zone))


def _items(session, ids: Iterable[int]) -> dict[int, CatalogItem]:
    wanted = set(ids)
    return {i.id: i for i in session.scalars(select(CatalogItem).where(CatalogItem.id.in_(wanted)))} if wanted else {}


def counts(session, weeks: Weeks) -> Iterable[Count]:
    yield from _applications(session, weeks)
    yield from _materials(session, weeks)
    yield from _ratings(session, weeks)
    yield from _catalog(session)
    yield from _followup_counts(session, weeks)


def _applications(session, weeks: Weeks) -> Iterable[Count]:
    rows = session.execute(
        select(Application.catalog_item_id, Application.service_code, Application.channel, Application.received_on,
               func.count()).where(Application.received_on >= weeks.first, Application.received_on < weeks.end)
        .group_by(Application.catalog_item_id, Application.service_code, Application.channel,
                  Application.received_on)).all()
    items = _items(session, (r[0] for r in rows))
    for item_id, service, channel, day, n in rows:
        item = items[item_id]
        week, dept = weeks.week_of(day), item.department
        cost = visits(channel, int(item.data.get("visits") or 0))
        online = channel in ONLINE_CHANNELS
        yield Count("received", dept, service, week, n)
        yield Count("received_online", dept, service, week, n if online else 0)
        yield Count("wholly_online", dept, service, week, n if online and cost == 0 else 0)
        yield Count("visits", dept, service, week, n * cost)
        yield Count("zero_visits", dept, service, week, n if cost == 0 else 0)
        yield Count("at_most_one_visit", dept, service, week, n if cost <= 1 else 0)


def _materials(session, weeks: Weeks) -> Iterable[Count]:
    rows = session.execute(
        select(Application.catalog_item_id, Application.service_code, Application.received_on,
               ApplicationMaterial.source, func.count())
        .join(Application, Application.id == ApplicationMaterial.application_id)
        .where(Application.received_on >= weeks.first, Application.received_on < weeks.end,
               ApplicationMaterial.source.in_(AT_RECEIPT))
        .group_by(Application.catalog_item_id, Application.service_code, Application.received_on,
                  ApplicationMaterial.source)).all()
    items = _items(session, (r[0] for r in rows))
    for item_id, service, day, source, n in rows:
        dept, week = items[item_id].department, weeks.week_of(day)
        yield Count("materials", dept, service, week, n)
        yield Count("materials_from_records", dept, service, week, n if source in FROM_RECORDS else 0)


def _ratings(session, weeks: Weeks) -> Iterable[Count]:
    start, end = _bounds(weeks)
    rows = session.execute(
        select(Application.catalog_item_id, Application.service_code, Rating.grade, Rating.rated_at)
        .join(Application, Application.case_id == Rating.case_id)
        .where(Rating.rated_at >= start, Rating.rated_at < end)).all()
    items = _items(session, (r[0] for r in rows))
    for item_id, service, grade, at in rows:
        dept, week = items[item_id].department, weeks.week_of(at.astimezone(office.zone).date())
        yield Count("rated", dept, service, week, 1)
        yield Count(f"rated_{grade}", dept, service, week, 1)
        yield Count("rated_bad", dept, service, week, 1 if GRADES[grade][1] else 0)
        yield Count("rated_good", dept, service, week, 0 if GRADES[grade][1] else 1)


def _catalog(session) -> Iterable[Count]:
    for item in catalog_store.current_items(session):
        data = item.data
        yield Count("items", item.department, item.code, None, 1)
        yield Count("items_online", item.department, item.code, None, 1 if not data.get("visits") else 0)
        yield Count("promised_days", item.department, item.code, None, int(data.get("promised_working_days") or 0))
        promised, statutory = int(data.get("promised_working_days") or 0), int(data.get("statutory_working_days") or 0)
        yield Count("statutory_days", item.department, item.code, None, statutory)
        yield Count("compressed_days", item.department, item.code, None, statutory - promised)


def _followup_counts(session, weeks: Weeks) -> Iterable[Count]:
    for row in followups(session, weeks):
        if row["state"] == "running":
            yield Count("followups_open", row["department"], row["service_code"], None, 1)
            yield Count("followups_overdue", row["department"], row["service_code"], None,
                        1 if row["level"] == "red" else 0)


def followups(session, weeks: Weeks) -> list[dict[str, Any]]:
    """Every bad rating given in these weeks, and every one whose follow-up is still open: the rated
    case, the grade, the follow-up case, its due date and level (from its case clock), how it ended."""
    start, end = _bounds(weeks)
    rows = session.execute(
        select(Rating, Application, Case).join(Application, Application.case_id == Rating.case_id)
        .join(Case, Case.case_no == Rating.followup_case_no)
        .where(Rating.bad.is_(True),
               ((Rating.rated_at >= start) & (Rating.rated_at < end)) | (Case.status == "running"))
        .order_by(Rating.rated_at.desc(), Rating.id.desc())).all()
    outcomes: dict[int, Any] = defaultdict(lambda: None)
    case_ids = [c.id for _r, _a, c in rows]
    if case_ids:
        for case_id, data in session.execute(select(Task.case_id, Task.data).where(
                Task.case_id.in_(case_ids), Task.state == "completed")):
            outcomes[case_id] = (data or {}).get("outcome")
    return [{
        "rated_case_no": application.case_no, "service_code": application.service_code,
        "service_name": application.item.name, "department": application.item.department,
        "grade": rating.grade, "grade_label": GRADES[rating.grade][0], "comment": rating.comment or "",
        "rated_on": rating.rated_at.astimezone(office.zone).date(), "followup_case_no": case.case_no,
        "state": case.status, "due_date": case.due_date, "level": case.sla_level,
        "ended_on": case.ended_at.astimezone(office.zone).date() if case.ended_at else None,
        "outcome": outcomes[case.id],
    } for rating, application, case in rows]


def services(session, _weeks: Weeks) -> list[dict[str, Any]]:
    """The catalog's current items: code, name and department (the dashboard's row labels)."""
    return [{"code": i.code, "name": i.name, "department": i.department}
            for i in catalog_store.current_items(session)]


def register() -> None:
    add_source("intake", counts)
    add_listing("bad_rating_followups", followups)
    add_listing("services", services)
