"""``flask calendar due|show|check`` on a minimal app built here (no database, no composition root)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from engine import clock
from sla.calendar_cli import calendar_cli

# A made-up 2027 for tests only; NOT the official arrangement.
FICTIONAL_2027 = """\
year: 2027
status: provisional
source: "test fixture, not a real notice"
holidays: ["2027-01-01", "2027-02-06..2027-02-12"]
workdays: ["2027-02-14"]
closures: ["2027-03-01"]
"""


def make_app(calendar_dir: Path | str | None = None, **config) -> Flask:
    app = Flask("calendar_cli_test")
    app.config.update(CALENDAR_DIR=calendar_dir, **config)
    app.cli.add_command(calendar_cli)
    return app


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["calendar", *args])


@pytest.fixture
def office_dir(tmp_path: Path) -> Path:
    (tmp_path / "2027.yaml").write_text(FICTIONAL_2027, encoding="utf-8")
    return tmp_path


def test_due_prints_the_date():
    result = run(make_app(), "due", "2026-02-12", "20")
    assert result.exit_code == 0
    assert result.stdout == "2026-03-18\n"


def test_due_into_a_year_without_data_is_refused_naming_it():
    result = run(make_app(), "due", "2026-12-01", "40")
    assert result.exit_code == 1
    assert "2027" in result.output and "provisional" in result.output


def test_due_provisional_is_marked():
    result = run(make_app(), "due", "2026-12-01", "40", "--provisional")
    assert result.exit_code == 0
    assert result.stdout == "2027-01-26 (provisional)\n"


def test_due_with_an_office_year(office_dir):
    # Thu 2026-12-31 + 1: 2027-01-01 off in the file; the file's year is provisional.
    result = run(make_app(str(office_dir)), "due", "2026-12-31", "1")
    assert result.exit_code == 0
    assert result.stdout == "2027-01-04 (provisional)\n"


@pytest.mark.parametrize("args", [("2026-02-30", "1"), ("2026-02-12", "-1"), ("2026-02-12", "many")])
def test_due_bad_arguments(args):
    result = run(make_app(), "due", *args)
    assert result.exit_code == 2


def test_show_a_library_year():
    result = run(make_app(), "show", "2025")
    assert result.exit_code == 0
    assert "2025: official" in result.output
    assert "chinesecalendar" in result.output
    assert "2025-01-28..2025-02-04  Tue..Tue  (8 days)" in result.output
    for worked in (
        "2025-01-26  Sun",
        "2025-02-08  Sat",
        "2025-04-27  Sun",
        "2025-09-28  Sun",
        "2025-10-11  Sat",
    ):
        assert worked in result.output
    assert "closures: none" in result.output


def test_show_an_office_year(office_dir):
    result = run(make_app(office_dir), "show", "2027")
    assert result.exit_code == 0
    assert "2027: provisional" in result.output
    assert "test fixture, not a real notice (2027.yaml)" in result.output
    assert "2027-02-06..2027-02-12" in result.output
    assert "2027-03-01  Mon" in result.output


def test_show_a_year_without_data():
    result = run(make_app(), "show", "2027")
    assert result.exit_code == 1
    assert "no holiday arrangement for 2027" in result.output


@pytest.mark.parametrize(("today", "exit_code"), [("2026-10-31", 0), ("2026-11-01", 1), ("2026-12-31", 1)])
def test_check_warns_from_november_when_next_year_is_missing(today, exit_code):
    result = run(make_app(), "check", "--today", today)
    assert result.exit_code == exit_code
    if exit_code:
        assert "warning" in result.output and "2027" in result.output
    else:
        assert "ok" in result.output


def test_check_passes_once_next_year_is_added(office_dir):
    result = run(make_app(office_dir), "check", "--today", "2026-11-20")
    assert result.exit_code == 0
    assert "2027 is provisional" in result.output


def test_check_refuses_when_the_current_year_is_missing():
    result = run(make_app(), "check", "--today", "2028-03-01")
    assert result.exit_code == 1
    assert "current year 2028" in result.output


def test_check_reads_today_from_the_clock_in_the_office_time_zone():
    # 2026-10-31 16:30 UTC is already 1 November 00:30 in Shanghai.
    instant = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    with clock.frozen(instant):
        assert run(make_app(), "check").exit_code == 1
        assert run(make_app(TIMEZONE="UTC"), "check").exit_code == 0


def test_check_reports_bad_files_with_file_and_field(tmp_path):
    (tmp_path / "2027.yaml").write_text(FICTIONAL_2027.replace("2027-03-01", "2027-02-30"), encoding="utf-8")
    result = run(make_app(tmp_path), "check", "--today", "2026-11-20")
    assert result.exit_code == 1
    assert "2027.yaml:6" in result.output and "closures[0]" in result.output


def test_a_missing_calendar_directory_is_reported(tmp_path):
    result = run(make_app(tmp_path / "nowhere"), "due", "2026-02-12", "20")
    assert result.exit_code == 1
    assert "does not exist" in result.output
