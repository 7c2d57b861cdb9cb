"""The intake 5-day rule starts the case clock from the day the materials arrived; the sweeper lock
admits one process at a time (Redis SET NX PX, PostgreSQL advisory lock)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine import broker, clock, office
from engine.db import Database
from engine.models import Case, CaseEvent
from engine.scheduler import tick
from sla.lock import sweeper_lock
from tests import conftest
from tests.conftest import Api
from tests.e2e.intake_helpers import FOOD, MONDAY, all_food_materials, apply, decide, setup_office, travel


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), office.zone)


@pytest.fixture
def office_app(sqlite_app):
    conftest._tokens.clear()
    setup_office(sqlite_app)
    yield sqlite_app
    clock.set_default(None)


def test_deemed_acceptance_starts_the_clock_from_receipt(office_app):
    app = office_app
    # Given a food application (promised 5 working days) received Monday 2026-03-02, never decided
    travel(MONDAY)
    no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    broker.drain()
    # When the ticks of Tue 03-10 run (intake deems it accepted on 03-02, the sweep starts the clock)
    travel(at("2026-03-10"))
    for _ in range(2):
        assert not tick(app.extensions["onewindow.db"], at("2026-03-10")).errors
        broker.drain()
    # Then the clock counts from 03-02: due Mon 03-09, already red
    with app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        assert (case.accepted_on, case.due_date, case.sla_level) == (date(2026, 3, 2), date(2026, 3, 9), "red")
        kinds = [e.kind for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert "deemed_accepted" in kinds and "clock_started" in kinds
    view = Api(app, "window1").get(f"/api/cases/{no}/clock").get_json()
    assert [(e["kind"], e["on"]) for e in view["case_clock"]["ledger"]] == [("started", "2026-03-02")]
    # And the desk's late acceptance does not restart it
    decide(app, no, {"decision": "accept"})
    broker.drain()
    view = Api(app, "market1").get(f"/api/cases/{no}/clock").get_json()
    assert [(e["kind"], e["on"]) for e in view["case_clock"]["ledger"]] == [("started", "2026-03-02")]
    assert view["due_date"] == "2026-03-09"


@pytest.mark.redis
def test_redis_lock_admits_one_sweeper(redis_url, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with sweeper_lock(db, redis_url) as first:
            with sweeper_lock(db, redis_url) as second:
                assert (first, second) == (True, False)
        with sweeper_lock(db, redis_url) as again:
            assert again is True  # released on exit
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgres_advisory_lock_admits_one_sweeper(pg_url):
    one, two = Database(pg_url), Database(pg_url)
    try:
        with sweeper_lock(one, None) as first:
            with sweeper_lock(two, None) as second:
                assert (first, second) == (True, False)
        with sweeper_lock(two, None) as again:
            assert again is True
    finally:
        one.dispose()
        two.dispose()
