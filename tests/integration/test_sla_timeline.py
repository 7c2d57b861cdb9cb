"""Acceptance 2 (SQLite and PostgreSQL): the case clock through a pause (await_supplement), a special procedure and an
extension, and a step overdue while its case is not - due dates and levels checked day by day."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine import broker, clock, office
from engine.models import Case, Task
from engine.scheduler import tick
from sla.models import Alert, AlertDelivery
from tests import conftest
from tests.conftest import Api, deploy_reference


def at(day: str, hour: int = 10) -> datetime:
    """``hour`` o'clock on ``day`` in the office's zone."""
    return datetime.combine(date.fromisoformat(day), time(hour), office.zone)


def db(app):
    return app.extensions["onewindow.db"]


def case_row(app, no: str) -> Case:
    with db(app).read() as s:
        row = s.scalar(select(Case).where(Case.case_no == no))
        s.expunge(row)
        return row


def task_row(app, no: str, element: str) -> Task:
    with db(app).read() as s:
        row = s.scalars(select(Task).where(Task.case_no == no, Task.element_id == element)
                        .order_by(Task.created_at.desc())).first()
        s.expunge(row)
        return row


def alerts_of(app, no: str) -> list[tuple[str, str, str]]:
    with db(app).read() as s:
        return sorted((a.element_id or "case", a.level, a.rule_id)
                      for a in s.scalars(select(Alert).where(Alert.case_no == no)))


def act(app, day: str, fn):
    with clock.frozen(at(day)):
        out = fn()
    broker.drain()
    return out


def complete(app, no: str, element: str, user: str, data: dict) -> None:
    api = Api(app, user)
    task = task_row(app, no, element)
    r = api.post(f"/api/tasks/{task.id}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()


def tick_on(app, day: str) -> None:
    report = tick(db(app), at(day))
    assert not report.errors, report.errors
    broker.drain()


@pytest.fixture
def office_app(any_app):
    conftest._tokens.clear()  # tokens cached by another test's frozen clock may be expired here
    deploy_reference(any_app)
    return any_app


def test_pause_special_procedure_extension_and_overdue_step(office_app):
    app = office_app
    window, market1, lead = Api(app, "window1"), Api(app, "market1"), Api(app, "market_lead")

    # Given a food application accepted on Monday 2026-03-02 (promised limit 20 working days)
    def start():
        r = window.post("/api/cases", json={"process_id": "one_window",
                                            "data": {"category": "food", "applicant_name": "示范餐饮店"}})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["case_no"]

    no = act(app, "2026-03-02", start)
    act(app, "2026-03-02", lambda: complete(app, no, "intake", "window1", {"decision": "accept"}))
    c = case_row(app, no)
    # Then day 1 is Tue 03-03 and day 20 is Mon 03-30; the handle step (1 day) is due Tue 03-03
    assert (c.accepted_on, c.due_date, c.sla_level) == (date(2026, 3, 2), date(2026, 3, 30), "green")
    handle = task_row(app, no, "handle")
    assert handle.due_at == datetime.combine(date(2026, 3, 3), time(23, 59, 59), office.zone)
    assert handle.sla_level == "green"  # its threshold is 0: yellow on its due day, not the day it opens

    # When the department asks the applicant for materials on Wed 03-04 (clock pauses) ...
    asked = {"outcome": "request_materials", "opinion": "请补充材料"}
    act(app, "2026-03-04", lambda: complete(app, no, "handle", "market1", asked))
    view = act(app, "2026-03-06", lambda: market1.get(f"/api/cases/{no}/clock").get_json())
    assert view["case_clock"]["state"] == "paused"
    # ... on Fri 03-06 the projected due date has moved by the 2 paused working days (03-05, 03-06)
    assert view["case_clock"]["due_date"] == "2026-04-01"
    # ... and they arrive at the window on Wed 03-11: 5 working days not counted; 03-30 + 5 crosses
    # Qingming (04-04..06)
    r = act(app, "2026-03-11", lambda: window.post(f"/api/cases/{no}/messages/materials_supplemented",
                                                   json={"payload": {}}))
    assert r.status_code == 200, r.get_json()
    c = case_row(app, no)
    assert (c.due_date, c.sla_level) == (date(2026, 4, 7), "green")
    handle = task_row(app, no, "handle")
    assert handle.due_at.astimezone(office.zone).date() == date(2026, 3, 12)

    # Then the new handle step turns yellow on its due day, Thu 03-12, and red on Fri 03-13 while the
    # case stays green
    expected_step = {"2026-03-11": "green", "2026-03-12": "yellow", "2026-03-13": "red"}
    for day, level in expected_step.items():
        tick_on(app, day)
        assert task_row(app, no, "handle").sla_level == level, day
        assert case_row(app, no).sla_level == "green", day
    # (the 1-day intake step, done the day it opened, raised nothing: it warns on its due day only)
    assert alerts_of(app, no) == [("handle", "red", "supervisor-red"), ("handle", "yellow", "handler-yellow")]

    # When an expert review (专家评审) runs from Fri 03-20 to Thu 03-26
    r = act(app, "2026-03-20", lambda: market1.post(f"/api/cases/{no}/special-procedures", json={
        "kind": "专家评审", "reason": "技术方案需专家论证", "expected_working_days": 5}))
    assert r.status_code == 201, r.get_json()
    proc = r.get_json()["id"]
    tick_on(app, "2026-03-24")
    view = act(app, "2026-03-24", lambda: market1.get(f"/api/cases/{no}/clock").get_json())
    assert view["case_clock"]["state"] == "paused" and view["case_clock"]["due_date"] == "2026-04-09"
    assert case_row(app, no).due_date == date(2026, 4, 9)
    r = act(app, "2026-03-26", lambda: market1.post(f"/api/cases/{no}/special-procedures/{proc}/end"))
    assert r.status_code == 200, r.get_json()
    # Then 4 working days (03-23..03-26) are not counted: 04-07 + 4 = Mon 04-13
    assert case_row(app, no).due_date == date(2026, 4, 13)

    # When the caseworker (not a supervisor) asks for an extension: refused; a bad body: 422
    r = act(app, "2026-04-01", lambda: market1.post(f"/api/cases/{no}/extensions",
                                                    json={"working_days": 5, "reason": "需现场核查"}))
    assert r.status_code == 403
    r = act(app, "2026-04-01", lambda: lead.post(f"/api/cases/{no}/extensions",
                                                 json={"working_days": 0, "reason": ""}))
    assert r.status_code == 422
    # When the department's supervisor extends by 5 working days on Wed 04-01
    r = act(app, "2026-04-01", lambda: lead.post(f"/api/cases/{no}/extensions",
                                                 json={"working_days": 5, "reason": "需现场核查"}))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["due_date"] == "2026-04-20"
    c = case_row(app, no)
    assert (c.due_date, c.sla_level) == (date(2026, 4, 20), "green")

    # Then the case is yellow from Fri 04-17, red from Tue 04-21; the director hears on Fri 04-24
    expected_case = {"2026-04-16": "green", "2026-04-17": "yellow", "2026-04-20": "yellow", "2026-04-21": "red",
                     "2026-04-23": "red", "2026-04-24": "red"}
    for day, level in expected_case.items():
        tick_on(app, day)
        assert case_row(app, no).sla_level == level, day
        if day == "2026-04-23":
            assert ("case", "red", "director-red-3") not in alerts_of(app, no)
    assert alerts_of(app, no) == [
        ("case", "red", "director-red-3"), ("case", "red", "supervisor-red"), ("case", "yellow", "handler-yellow"),
        ("handle", "red", "director-red-3"), ("handle", "red", "supervisor-red"),
        ("handle", "yellow", "handler-yellow")]
    # An extension after the deadline is refused
    r = act(app, "2026-04-21", lambda: lead.post(f"/api/cases/{no}/extensions",
                                                 json={"working_days": 5, "reason": "太晚"}))
    assert r.status_code == 409

    # The ledger tells the whole story
    ledger = act(app, "2026-04-24", lambda: lead.get(f"/api/cases/{no}/clock").get_json())["case_clock"]["ledger"]
    assert [(e["kind"], e["on"]) for e in ledger] == [
        ("started", "2026-03-02"), ("paused", "2026-03-04"), ("resumed", "2026-03-11"),
        ("paused", "2026-03-20"), ("resumed", "2026-03-26"), ("extended", "2026-04-01")]
    assert ledger[-1]["approver"] == "market_lead" and ledger[-1]["working_days"] == 5
    # Inbox: the supervisor sees every yellow and red of his department, once per step and level,
    # though the yellows went to the caseworker, and acknowledges one
    mine = lead.get("/api/alerts?state=open").get_json()
    assert sorted((a["element_id"] or "case", a["level"]) for a in mine) == [
        ("case", "red"), ("case", "yellow"), ("handle", "red"), ("handle", "yellow")]
    assert "示范餐饮店" not in mine[0]["message"]
    r = lead.post(f"/api/alerts/{mine[0]['id']}/ack")
    assert r.status_code == 200 and r.get_json()["state"] == "acked"
    assert len(lead.get("/api/alerts?state=open").get_json()) == 3
    assert Api(app, "health1").post(f"/api/alerts/{mine[1]['id']}/ack").status_code == 403
    # The director, who supervises the department and is the chain's director, was told of each red
    # step once: by supervisor-red; director-red-3 added no second alert to his inbox
    director = Api(app, "director").get("/api/alerts").get_json()
    assert sorted((a["element_id"] or "case", a["level"], a["rule"]) for a in director if a["level"] == "red") == [
        ("case", "red", "supervisor-red"), ("handle", "red", "supervisor-red")]
    with db(app).read() as s:
        told = [(d.addressee, d.step, d.level) for d in s.scalars(
            select(AlertDelivery).where(AlertDelivery.channel == "inbox", AlertDelivery.addressee == "director"))]
    assert len(told) == len(set(told)) == 2
