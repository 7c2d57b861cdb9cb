"""Acceptance 3 (SQLite and PostgreSQL): one alert per step, level and person, and a supervisor sees
every yellow and red step of his department, whoever the escalation chain addressed."""

from __future__ import annotations

from sqlalchemy import func, select

from sla.models import Alert, AlertDelivery
from tests.conftest import Api
from tests.integration.sla_helpers import start_and_accept
from tests.integration.test_sla_timeline import act, db, office_app, tick_on  # noqa: F401


def inbox(app, user: str) -> list[tuple[str, str]]:
    return sorted((a["element_id"] or "case", a["level"]) for a in Api(app, user).get("/api/alerts").get_json())


def test_each_person_hears_of_a_step_and_level_once(office_app):  # noqa: F811
    app = office_app
    # Given a food case accepted on Mon 03-02 whose 承办 (one working day, threshold 0) is due Tue 03-03
    no = act(app, "2026-03-02", lambda: start_and_accept(app, Api(app, "window1"), "示范餐饮店"))

    # When the sweep runs on its due day
    tick_on(app, "2026-03-03")
    # Then the step is yellow: the caseworkers were told, and their supervisor sees it too (he was not
    # addressed), as does the director who supervises every department
    assert inbox(app, "market1") == [("handle", "yellow")]
    assert inbox(app, "market_lead") == [("handle", "yellow")]
    html = Api(app, "market_lead").get("/supervision/alerts").get_data(as_text=True)
    assert no in html
    assert inbox(app, "health_lead") == []

    # When it is overdue (Wed 03-04) and still red four working days after its due date (Mon 03-09)
    tick_on(app, "2026-03-04")
    tick_on(app, "2026-03-09")
    # Then both red rules fired (each alert records its rule) ...
    with db(app).read() as s:
        rules = sorted(s.scalars(select(Alert.rule_id).where(Alert.case_no == no, Alert.level == "red",
                                                             Alert.element_id == "handle")))
        assert rules == ["director-red-3", "supervisor-red"]
        # ... but the director, told as the department's supervisor, got no second red for the step
        per_person = dict(s.execute(
            select(AlertDelivery.addressee, func.count()).where(
                AlertDelivery.channel == "inbox", AlertDelivery.level == "red",
                AlertDelivery.step == select(Alert.step).where(Alert.case_no == no, Alert.element_id == "handle")
                .limit(1).scalar_subquery())
            .group_by(AlertDelivery.addressee)).all())
    assert per_person == {"director": 1, "market_lead": 1}
    # and each inbox lists the step's red once
    assert inbox(app, "director").count(("handle", "red")) == 1
    assert inbox(app, "market_lead") == [("handle", "red"), ("handle", "yellow")]

    # When the supervisor acknowledges the red, both red alerts of the step are acknowledged
    red = next(a for a in Api(app, "market_lead").get("/api/alerts?state=open").get_json() if a["level"] == "red")
    assert Api(app, "market_lead").post(f"/api/alerts/{red['id']}/ack").status_code == 200
    with db(app).read() as s:
        states = set(s.scalars(select(Alert.state).where(Alert.case_no == no, Alert.level == "red")))
    assert states == {"acked"}
