"""Cases seeded for the director's dashboard, and the figures the tests expect, computed here from the
scenario itself (the catalog's YAML, the official calendar, the days each case was received, decided
and rated), never from the code under test.

Three weeks: Mon 2026-03-02, 03-09, 03-16; the dashboard is read on Fri 03-20.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar
import yaml
from sqlalchemy import select

from engine import broker, clock, office
from engine.models import Task
from engine.scheduler import tick
from tests.conftest import ROOT, Api
from tests.e2e.intake_helpers import ORG_ID, PERSON_ID, PERSON_ID_2, approve_in_back_office, decide, file, setup_office
from tests.e2e.intake_helpers import travel as travel_to

TODAY = date(2026, 3, 20)
WEEKS = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
APPLICANTS = {ORG_ID: ("organization", "示范餐饮管理有限公司", "13800138000"),
              PERSON_ID: ("person", "王小明", "13912345678"), PERSON_ID_2: ("person", "李秀英", "13700137000")}


@dataclass(frozen=True)
class Seeded:
    """One application: what the test did, on which office days."""

    name: str
    service: str
    channel: str
    applicant: str
    given: tuple[str, ...]
    received: date
    decided: date | None = None  # approved in the back office (the case clock stops), handed out the same day
    rating: tuple[date, str] | None = None
    followup_done: date | None = None  # the bad rating's follow-up completed (resolved)


SCENARIO = [
    Seeded("A", "110105-XK-0001", "window", ORG_ID, ("application_form", "business_licence", "id_card", "premises",
                                                     "layout", "safety_rules", "safety_manager"),
           received=date(2026, 3, 2), decided=date(2026, 3, 4), rating=(date(2026, 3, 5), "satisfied")),
    Seeded("B", "110105-XK-0002", "online", ORG_ID, ("change_form", "food_licence", "change_evidence"),
           received=date(2026, 3, 3), decided=date(2026, 3, 12), rating=(date(2026, 3, 13), "very_dissatisfied")),
    Seeded("C", "110105-XK-0102", "window", ORG_ID, ("application_form", "site_plan", "hygiene_report",
                                                     "hygiene_rules"),
           received=date(2026, 3, 9), decided=date(2026, 3, 11)),
    Seeded("D", "110105-XK-0101", "online", PERSON_ID_2, ("registration_form", "business_licence", "id_card",
                                                          "premises", "floor_plan", "staff_list", "rules",
                                                          "equipment_list"),
           received=date(2026, 3, 10)),
    Seeded("E", "110105-XK-0001", "window", PERSON_ID, ("application_form", "business_licence", "id_card",
                                                        "premises", "layout", "safety_rules", "safety_manager"),
           received=date(2026, 3, 16), decided=date(2026, 3, 17), rating=(date(2026, 3, 18), "dissatisfied"),
           followup_done=date(2026, 3, 19)),
]


def catalog() -> dict[str, dict]:
    """The demo catalog's items by code, read from the YAML the office loads."""
    items: dict[str, dict] = {}
    for path in sorted((ROOT / "bpmn/catalog").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data.get("items", [data]) if isinstance(data, dict) else data:
            items[item["code"]] = item
    return items


def working_days_after(start: date, end: date) -> int:
    """Working days in (start, end], by the State Council's calendar (chinese_calendar itself)."""
    return sum(1 for i in range(1, (end - start).days + 1) if chinese_calendar.is_workday(start + timedelta(days=i)))


def due(start: date, n: int) -> date:
    day = start
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return day


# --- seeding -----------------------------------------------------------------------------------------


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10), office.zone)


def _travel(day: date) -> None:
    travel_to(_at(day))


def _apply(app, s: Seeded) -> str:
    kind, name, phone = APPLICANTS[s.applicant]
    body = {"service_code": s.service, "channel": s.channel,
            "applicant": {"kind": kind, "id_number": s.applicant, "name": name, "phone": phone},
            "materials": [{"code": c, "file": file(f"{c}.pdf", f"%PDF-1.4 {s.name} {c}".encode())} for c in s.given]}
    r = Api(app, "window1").post("/api/applications", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["case_no"]


def seed(app) -> dict[str, str]:
    """Run the scenario through the API, day by day; returns each case's number by its name."""
    numbers: dict[str, str] = {}
    followups: dict[str, str] = {}
    _travel(WEEKS[0])
    setup_office(app)
    days = sorted({d for s in SCENARIO for d in (s.received, s.decided, s.rating and s.rating[0], s.followup_done)
                   if d})
    for day in days:
        _travel(day)
        for s in SCENARIO:
            if s.received == day:
                numbers[s.name] = _apply(app, s)
                decide(app, numbers[s.name], {"decision": "accept"})
            if s.decided == day:
                approve_in_back_office(app, numbers[s.name])
                r = Api(app, "window1").post(f"/api/cases/{numbers[s.name]}/issuance",
                                             json={"delivery": "pickup", "certificate_no": f"JY-{s.name}"})
                assert r.status_code == 200, r.get_json()
            if s.rating and s.rating[0] == day:
                r = app.test_client().post(f"/api/public/cases/{numbers[s.name]}/rating",
                                           json={"id_tail": s.applicant[-4:], "grade": s.rating[1]})
                assert r.status_code == 201, r.get_json()
                if r.get_json()["followup_case_no"]:
                    followups[s.name] = r.get_json()["followup_case_no"]
            if s.followup_done == day:
                _complete_followup(app, followups[s.name])
        broker.drain()
    _travel(TODAY)
    assert not tick(app.extensions["onewindow.db"], _at(TODAY)).errors  # levels as of the day it is read
    broker.drain()
    return numbers


def _complete_followup(app, case_no: str) -> None:
    with app.extensions["onewindow.db"].read() as s:
        task_id = s.scalar(select(Task.id).where(Task.case_no == case_no, Task.state == "open"))
    r = Api(app, "market_lead").post(f"/api/tasks/{task_id}/complete", json={"data": {
        "outcome": "resolved", "findings": "已电话回访", "measures": "增开窗口"}})
    assert r.status_code == 200, r.get_json()


# --- what the figures must be ------------------------------------------------------------------------


def expected(department: str | None = None, service: str | None = None, week: date | None = None) -> dict:
    """The dashboard's figures for a department / service (None: the office), over the three weeks or
    one of them, from the scenario alone."""
    items = catalog()

    def mine(code: str) -> bool:
        return (department is None or items[code]["department"] == department) and (service in (None, code))

    def in_week(day: date | None) -> bool:
        return day is not None and (week is None or week <= day < week + timedelta(days=7))

    sums: dict[str, float] = defaultdict(float)
    earlier: dict[str, set[str]] = defaultdict(set)  # what each applicant has given before (reusable files)
    for s in SCENARIO:
        item = items[s.service]
        reusable = {m["code"] for m in item["materials"] if m["reusable"]}
        required = {m["code"] for m in item["materials"] if m["required"]}
        reused = (required & reusable & earlier[s.applicant]) - set(s.given)
        earlier[s.applicant] |= set(s.given)
        if not mine(s.service):
            continue
        if in_week(s.received):
            visits = item["visits"] if s.channel != "window" else max(item["visits"], 1)
            sums["received"] += 1
            sums["wholly_online"] += s.channel != "window" and visits == 0
            sums["visits"] += visits
            sums["zero_visits"] += visits == 0
            sums["at_most_one_visit"] += visits <= 1
            sums["materials"] += len(s.given) + len(reused)
            sums["materials_from_records"] += len(reused)
        if in_week(s.decided):
            accepted = s.received
            sums["closed"] += 1
            sums["closed_on_time"] += s.decided <= due(accepted, item["promised_working_days"])
            sums["closed_working_days"] += working_days_after(accepted, s.decided)
        if s.rating and in_week(s.rating[0]):
            sums["rated"] += 1
            sums["rated_good"] += s.rating[1] not in ("dissatisfied", "very_dissatisfied")
        if week is None and s.rating and s.rating[1] in ("dissatisfied", "very_dissatisfied") and not s.followup_done:
            sums["followups_open"] += 1
        if week is None and s.decided is None:  # still in the back office: its one-day 承办 is long overdue
            sums["overdue_steps"] += 1
    if week is None:
        for code, item in items.items():
            if mine(code):
                sums["items"] += 1
                sums["items_online"] += item["visits"] == 0
                sums["compressed"] += item["statutory_working_days"] - item["promised_working_days"]
                sums["statutory"] += item["statutory_working_days"]

    def ratio(a: str, b: str) -> float | None:
        return sums[a] / sums[b] if sums[b] else None

    figures = {
        "closed": sums["closed"], "on_time_rate": ratio("closed_on_time", "closed"),
        "avg_working_days": ratio("closed_working_days", "closed"), "received": sums["received"],
        "wholly_online_rate": ratio("wholly_online", "received"), "avg_visits": ratio("visits", "received"),
        "zero_visit_rate": ratio("zero_visits", "received"),
        "at_most_one_visit_rate": ratio("at_most_one_visit", "received"),
        "from_records_rate": ratio("materials_from_records", "materials"), "rated": sums["rated"],
        "good_rate": ratio("rated_good", "rated"),
    }
    if week is None:
        figures.update({"online_items_rate": ratio("items_online", "items"),
                        "compression": ratio("compressed", "statutory"), "overdue_steps": sums["overdue_steps"],
                        "followups_open": sums["followups_open"]})
    return figures


def reset_clock() -> None:
    clock.set_default(None)
