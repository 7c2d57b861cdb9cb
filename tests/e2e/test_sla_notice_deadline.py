"""Acceptance 5: the deadline printed on the applicant's acceptance notice is the case clock's due date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import broker, clock
from engine.models import Case
from tests.conftest import Api
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    all_food_materials,
    apply,
    cn,
    decide,
    notice,
    pdf_text,
    setup_office,
    travel,
)


@pytest.fixture
def office_app(sqlite_app):
    setup_office(sqlite_app)
    yield sqlite_app
    clock.set_default(None)


def test_acceptance_notice_shows_the_case_clock_due_date(office_app):
    # Given a food licence application (promised 5, statutory 10 working days) received on Monday 2026-03-02
    travel(MONDAY)
    no = apply(office_app, FOOD, materials=all_food_materials())["case_no"]
    # When the front desk accepts it on Thursday 2026-03-05
    travel(MONDAY + timedelta(days=3))
    decide(office_app, no, {"decision": "accept"})
    broker.drain()
    # Then the clock starts on 03-05: day 5 is Thu 03-12, the statutory day 10 is Thu 03-19
    clock_view = Api(office_app, "market1").get(f"/api/cases/{no}/clock").get_json()
    assert clock_view["case_clock"]["ledger"][0] == {**clock_view["case_clock"]["ledger"][0],
                                                     "kind": "started", "on": "2026-03-05"}
    assert clock_view["due_date"] == clock_view["case_clock"]["due_date"] == "2026-03-12"
    assert clock_view["statutory_due_date"] == "2026-03-19"
    with office_app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        due, provisional = case.due_date, case.due_provisional
    assert (due, provisional) == (date(2026, 3, 12), False)
    # And the acceptance notice (HTML and PDF) prints exactly that date
    html = notice(office_app, no, "acceptance", "html")
    pdf = notice(office_app, no, "acceptance", "pdf")
    assert html.status_code == 200 and pdf.status_code == 200
    for text in (html.get_data(as_text=True), pdf_text(pdf.data)):
        assert cn(date(2026, 3, 5)) in text and cn(due) in text
