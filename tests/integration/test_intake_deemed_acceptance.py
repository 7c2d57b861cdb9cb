"""The 5-working-day rule: an intake left undecided counts as accepted from the day of receipt,
run by the tick on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import clock, scheduler
from engine.models import Case, CaseEvent
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    all_food_materials,
    application,
    apply,
    cn,
    decide,
    file,
    notice,
    pdf_text,
    setup_office,
    travel,
)


@pytest.fixture
def office_app(any_app):
    setup_office(any_app)
    travel(MONDAY)
    yield any_app
    clock.set_default(None)


def beijing(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def tick(app, day: date) -> scheduler.TickReport:
    report = scheduler.tick(app.extensions["onewindow.db"], beijing(day))
    assert not report.errors, report.errors
    return report


def deemed_events(app, case_no: str) -> list[dict]:
    """The data of the case's deemed_accepted history events."""
    with app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == case_no))
        return [dict(e.data) for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "deemed_accepted"))]


def accepted_on(app, case_no: str) -> date | None:
    with app.extensions["onewindow.db"].read() as s:
        return s.scalar(select(Case.accepted_on).where(Case.case_no == case_no))


def test_undecided_intake_counts_as_accepted_from_the_day_of_receipt(office_app):
    # Given an application received on Monday 2 March 2026 and left undecided
    no = apply(office_app, FOOD, materials=all_food_materials())["case_no"]
    # When the tick runs on the fifth working day after receipt (Monday 9 March): still in time
    assert tick(office_app, date(2026, 3, 9)).hooks["intake.deemed_acceptance"] == {"deemed_accepted": 0}
    assert deemed_events(office_app, no) == [] and accepted_on(office_app, no) is None
    # When it runs the day after (Tuesday 10 March)
    assert tick(office_app, date(2026, 3, 10)).hooks["intake.deemed_acceptance"] == {"deemed_accepted": 1}
    # Then the case counts as accepted on the day of receipt: recorded in the history and on the case
    [event] = deemed_events(office_app, no)
    assert event["accepted_on"] == "2026-03-02" and event["decide_by"] == "2026-03-09"
    assert accepted_on(office_app, no) == date(2026, 3, 2)
    # and only once
    assert tick(office_app, date(2026, 3, 11)).hooks["intake.deemed_acceptance"] == {"deemed_accepted": 0}
    assert len(deemed_events(office_app, no)) == 1
    travel(beijing(date(2026, 3, 11)))
    view = application(office_app, no)
    assert view["deemed_accepted_on"] == "2026-03-02" and view["accepted_on"] == "2026-03-02"
    assert view["status"] == "accepted" and "acceptance" in view["notices"]
    # a correction can no longer be asked; the acceptance notice shows the day of receipt
    body = decide(office_app, no, {"decision": "correction", "missing": ["layout"]}, expect=422)
    assert "decision" in [p["field"] for p in body["problems"]]
    pdf = notice(office_app, no, "acceptance", "pdf")
    assert pdf.status_code == 200 and cn(date(2026, 3, 2)) in pdf_text(pdf.data)
    decide(office_app, no, {"decision": "accept"})
    assert accepted_on(office_app, no) == date(2026, 3, 2)


def test_a_correction_in_time_stops_the_rule_and_resubmission_restarts_it(office_app):
    given = [m for m in all_food_materials() if m["code"] != "premises"]
    no = apply(office_app, FOOD, materials=given)["case_no"]
    travel(MONDAY + timedelta(days=1))
    decide(office_app, no, {"decision": "correction", "missing": ["premises"]})
    # waiting for the applicant: nothing is deemed however long it takes
    tick(office_app, date(2026, 3, 20))
    assert deemed_events(office_app, no) == []
    # the materials arrive on Monday 23 March: the count starts again from that day
    travel(beijing(date(2026, 3, 23)))
    from tests.conftest import Api

    r = Api(office_app, "window1").post(f"/api/cases/{no}/materials",
                                        json={"materials": [{"code": "premises", "file": file("p.pdf")}]})
    assert r.status_code == 200, r.get_json()
    tick(office_app, date(2026, 3, 30))
    assert deemed_events(office_app, no) == []
    tick(office_app, date(2026, 3, 31))
    [event] = deemed_events(office_app, no)
    assert event["accepted_on"] == "2026-03-23"
    assert accepted_on(office_app, no) == date(2026, 3, 23)
