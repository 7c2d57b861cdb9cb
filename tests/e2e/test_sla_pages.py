"""The supervisors' pages (alerts inbox with acknowledge, at risk by department, compliance chart,
a case's ledger), the digest command and the OpenAPI entries of the SLA routes."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine import broker, clock, office
from engine.models import Task
from engine.scheduler import tick
from sla.models import Digest
from tests import conftest
from tests.conftest import Api, deploy_reference


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), office.zone)


def do(app, no: str, element: str, user: str, data: dict) -> None:
    with app.extensions["onewindow.db"].read() as s:
        task = s.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == element,
                                              Task.state.in_(("open", "claimed"))))
    r = Api(app, user).post(f"/api/tasks/{task}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    broker.drain()


@pytest.fixture
def office_app(sqlite_app):
    conftest._tokens.clear()
    deploy_reference(sqlite_app)
    app = sqlite_app
    window = Api(app, "window1")
    cases = []
    with clock.frozen(at("2026-03-02")):
        for subject in ("示范餐饮店", "快餐店"):
            r = window.post("/api/cases", json={"process_id": "one_window",
                                                "data": {"category": "food", "applicant_name": subject}})
            cases.append(r.get_json()["case_no"])
            broker.drain()
            do(app, cases[-1], "intake", "window1", {"decision": "accept"})
    late, on_time = cases
    # the second case is decided on time, on 03-10
    with clock.frozen(at("2026-03-10")):
        do(app, on_time, "handle", "market1", {"outcome": "submit", "opinion": "同意"})
        do(app, on_time, "review", "market2", {"outcome": "pass", "opinion": "同意"})  # three people (审批分离)
        do(app, on_time, "approve", "market3", {"outcome": "approved", "opinion": "准予许可"})
    tick(app.extensions["onewindow.db"], at("2026-04-15"))
    broker.drain()
    return app, late, on_time


def test_alerts_page_lists_and_acknowledges(office_app):
    app, late, _ = office_app
    page = Api(app, "market_lead")
    html = page.get("/supervision/alerts").get_data(as_text=True)
    assert late in html and "supervisor-red" in html and "示范餐饮店" not in html
    before = html.count("确认 ack")
    alert_id = page.get("/api/alerts?state=open").get_json()[0]["id"]
    r = page.post(f"/supervision/alerts/{alert_id}/ack")
    assert r.status_code == 302
    assert page.get("/supervision/alerts").get_data(as_text=True).count("确认 ack") == before - 1


def test_at_risk_compliance_and_ledger_pages(office_app):
    app, late, on_time = office_app
    page = Api(app, "market_lead")
    html = page.get("/supervision/at-risk").get_data(as_text=True)
    assert "market_dept" in html and late in html and on_time not in html
    html = page.get("/supervision/compliance").get_data(as_text=True)
    assert "<svg" in html and "2026-03" in html and "100% (1/1)" in html
    html = page.get(f"/supervision/cases/{late}").get_data(as_text=True)
    assert "started" in html and "2026-03-02" in html and "2026-03-30" in html
    assert page.get("/supervision/cases/OW-nope").status_code == 404


def test_digest_command_once_a_day(office_app):
    app, _, _ = office_app
    runner = app.test_cli_runner()
    with app.extensions["onewindow.db"].read() as s:
        before = len(list(s.scalars(select(Digest))))
    result = runner.invoke(args=["sla", "digest", "--now", at("2026-04-16").isoformat()])
    assert result.exit_code == 0, result.output
    assert "3 digest(s) sent" in result.output  # market_lead, health_lead, director
    again = runner.invoke(args=["sla", "digest", "--now", at("2026-04-16").isoformat()])
    assert "0 digest(s) sent" in again.output
    with app.extensions["onewindow.db"].read() as s:
        digests = list(s.scalars(select(Digest).where(Digest.day == date(2026, 4, 16))))
        assert len(digests) == 3 and before == 3  # the tick at 10:00 on 04-15 sent the day's digests
        lead = next(d for d in digests if d.username == "market_lead")
        assert "open alert(s)" in lead.body and "示范餐饮店" not in lead.body


def test_openapi_lists_the_sla_routes(office_app):
    app, _, _ = office_app
    paths = Api(app, "admin").get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/cases/{case_no}/clock", "/api/cases/{case_no}/special-procedures",
                 "/api/cases/{case_no}/special-procedures/{procedure_id}/end", "/api/cases/{case_no}/extensions",
                 "/api/alerts", "/api/alerts/{alert_id}/ack"):
        assert path in paths, path

