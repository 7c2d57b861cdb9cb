"""A bad rating's follow-up (差评回访整改): its task shows the grade, the comment, whom to call back (the
phone masked, whole on its own audited page for those who handled the case) and the rated case, under
a clock of its own (15 working days by default, configurable)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine import broker, clock, office
from engine.models import AuditEntry, Case, Task
from sla.models import Clock
from tests import conftest
from tests.conftest import Api, Browser, make_app
from tests.e2e.intake_helpers import (
    FOOD,
    ORG_ID,
    all_food_materials,
    apply,
    approve_in_back_office,
    decide,
    setup_office,
)

MONDAY = datetime.combine(date(2026, 3, 2), time(10), office.zone)


def rated_badly(app, comment: str = "等候时间太长") -> tuple[str, str]:
    """A food case decided and handed out on Monday 2026-03-02, rated 非常不满意 the same day."""
    conftest._tokens.clear()
    with clock.frozen(MONDAY):
        setup_office(app)
        no = apply(app, FOOD, materials=all_food_materials())["case_no"]
        decide(app, no, {"decision": "accept"})
        approve_in_back_office(app, no)
        r = Api(app, "window1").post(f"/api/cases/{no}/issuance", json={"delivery": "pickup",
                                                                         "certificate_no": "JY1"})
        assert r.status_code == 200, r.get_json()
        r = app.test_client().post(f"/api/public/cases/{no}/rating", json={
            "id_tail": ORG_ID[-4:], "grade": "very_dissatisfied", "comment": comment})
        assert r.status_code == 201, r.get_json()
        broker.drain()
    return no, r.get_json()["followup_case_no"]


def test_the_followup_task_shows_the_rating_the_contact_and_the_rated_case(sqlite_app):
    app = sqlite_app
    rated, followup = rated_badly(app)
    with app.extensions["onewindow.db"].read() as s:
        task_id = s.scalar(select(Task.id).where(Task.case_no == followup))
        case = s.scalar(select(Case).where(Case.case_no == followup))
        clock_row = s.scalar(select(Clock).where(Clock.case_id == case.id, Clock.step == ""))
        # Then the follow-up has its own clock: 15 working days from the rating day, in the department
        assert (clock_row.state, clock_row.budget, clock_row.started_on, clock_row.group) == (
            "running", 15, date(2026, 3, 2), "market_dept")
        assert case.due_date == date(2026, 3, 23) and case.service_code is None
    # When a caseworker of the department opens the task
    page = Browser(app)
    page.login("market1")
    with clock.frozen(MONDAY):
        html = page.get(f"/tasks/{task_id}").get_data(as_text=True)
    # Then it shows the grade, the comment, the contact with the phone masked, and links the rated case
    assert "非常不满意" in html and "等候时间太长" in html
    assert "示范餐饮管理有限公司" in html and "138****8000" in html and "13800138000" not in html
    assert f'href="/cases/{rated}"' in html and "2026-03-23" in html
    # When he asks for the whole number, he sees it (he handled the rated case) and it is audited
    with clock.frozen(MONDAY):
        html = page.get(f"/followups/{followup}/contact").get_data(as_text=True)
    assert "13800138000" in html
    with app.extensions["onewindow.db"].read() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.username == "market1")
                        .order_by(AuditEntry.id.desc())).first()
        assert (row.category, row.case_no) == ("personal_data", rated)
    # The department's supervisor may see it too (the policy: those who handle the case), audited as well
    lead = Browser(app)
    lead.login("market_lead")
    with clock.frozen(MONDAY):
        assert "13800138000" in lead.get(f"/followups/{followup}/contact").get_data(as_text=True)
    with app.extensions["onewindow.db"].read() as s:
        assert s.scalar(select(AuditEntry.case_no).where(AuditEntry.username == "market_lead",
                                                         AuditEntry.category == "personal_data")) == rated
    # Another department does not even learn that the follow-up exists
    other = Browser(app)
    other.login("health1")
    assert other.get(f"/followups/{followup}/contact").status_code == 404
    # A case that is no follow-up has no contact page
    assert page.get(f"/followups/{rated}/contact").status_code == 404


@pytest.fixture
def short_followup_app(tmp_path, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "onewindow.db")
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'onewindow.db'}", followup_working_days=5)
    yield app
    broker.drain()
    app.extensions["onewindow.db"].dispose()


def test_the_followup_limit_is_the_offices_setting(short_followup_app):
    _rated, followup = rated_badly(short_followup_app)
    with short_followup_app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == followup))
    assert case.due_date == date(2026, 3, 9)  # 5 working days after Monday 03-02


def test_a_followup_limit_out_of_range_is_refused_at_start():
    from onewindow.config import from_env

    with pytest.raises(ValueError, match="ONEWINDOW_FOLLOWUP_WORKING_DAYS"):
        from_env({"ONEWINDOW_FOLLOWUP_WORKING_DAYS": "0"})
