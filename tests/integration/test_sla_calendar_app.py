"""Acceptance 1 (through the app): an office file for 2027 is used when present; until then a
deadline reaching 2027 is provisional; when the file changes open deadlines are recomputed and the
change is in the case history (`onewindow calendar reload`, or the next tick)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from engine import broker, clock, office
from engine.models import Case, CaseEvent
from engine.scheduler import tick
from tests import conftest
from tests.conftest import Api, deploy_reference
from tests.integration.sla_helpers import start_and_accept

FILE_2027 = """year: 2027
status: official
source: "国务院办公厅关于2027年部分节假日安排的通知 (test data)"
holidays: ["2027-01-01", "2027-02-06..2027-02-12"]
workdays: ["2027-02-14"]
closures: []
"""


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), office.zone)


def case_dates(app, no: str) -> tuple[date | None, bool]:
    with app.extensions["onewindow.db"].read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        return case.due_date, case.due_provisional


def recomputed(app, no: str) -> list[dict]:
    with app.extensions["onewindow.db"].read() as s:
        case_id = s.scalar(select(Case.id).where(Case.case_no == no))
        return [e.data for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.kind == "deadline_recomputed", CaseEvent.task_id.is_(None))
            .order_by(CaseEvent.id))]


@pytest.fixture
def office_app(sqlite_app, tmp_path):
    deploy_reference(sqlite_app)
    calendar_dir = tmp_path / "calendar"
    calendar_dir.mkdir()
    rt = sqlite_app.extensions["sla.runtime"]
    rt.calendar_dir = str(calendar_dir)
    sqlite_app.config["CALENDAR_DIR"] = str(calendar_dir)
    return sqlite_app, calendar_dir


def test_2027_office_file_is_used_and_open_deadlines_follow_it(office_app):
    app, calendar_dir = office_app
    # Given a case accepted Thu 2026-12-10 with no 2027 data: 20 working days reach into 2027
    with clock.frozen(at("2026-12-10")):
        conftest._tokens.clear()  # a token issued "today" would have expired by December
        window = Api(app, "window1")
        no = start_and_accept(app, window, "王五")
    broker.drain()
    # Then the due date is provisional, counting 2027-01-01 as a working day (Monday-Friday)
    assert case_dates(app, no) == (date(2027, 1, 7), True)

    # When the office adds the 2027 file and reloads the calendar
    (calendar_dir / "2027.yaml").write_text(FILE_2027, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "reload", "--now", at("2026-12-11").isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 case(s) with moved deadlines" in result.output
    # Then 2027-01-01 is a holiday: the due date is Fri 2027-01-08, no longer provisional
    assert case_dates(app, no) == (date(2027, 1, 8), False)
    assert Api(app, "window1").get(f"/api/cases/{no}/clock").get_json()["case_clock"]["calendar_version"] \
        == app.extensions["sla.runtime"].calendar.version
    change = recomputed(app, no)[-1]
    assert (change["from"], change["to"]) == ("2027-01-07", "2027-01-08")

    # When a local closure is added to the file, the next tick notices and recomputes
    (calendar_dir / "2027.yaml").write_text(FILE_2027.replace("closures: []", 'closures: ["2027-01-08"]'),
                                            encoding="utf-8")
    report = tick(app.extensions["onewindow.db"], at("2026-12-14"))
    assert report.hooks["sla.sweep"]["recomputed"] == 1
    assert case_dates(app, no) == (date(2027, 1, 11), False)
    assert [(c["from"], c["to"]) for c in recomputed(app, no)] == [("2027-01-07", "2027-01-08"),
                                                                   ("2027-01-08", "2027-01-11")]
