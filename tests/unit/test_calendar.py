"""The working-day calendar against the State Council's arrangements for 2025 and 2026.

Every expected date below was counted by hand from the notices, not by the code under test:

2025 (国办发明电〔2024〕12号): 元旦 1-01 (Wed) off; 春节 1-28 (Tue)..2-04 (Tue) off, 1-26 (Sun) and
2-08 (Sat) worked; 清明 4-04 (Fri)..4-06 off; 劳动节 5-01 (Thu)..5-05 (Mon) off, 4-27 (Sun) worked;
端午 5-31 (Sat)..6-02 (Mon) off; 国庆·中秋 10-01 (Wed)..10-08 (Wed) off, 9-28 (Sun) and 10-11 (Sat) worked.

2026 (国务院办公厅 2026 年部分节假日安排的通知): 元旦 1-01 (Thu)..1-03 off, 1-04 (Sun) worked; 春节
2-15 (Sun)..2-23 (Mon) off, 2-14 (Sat) and 2-28 (Sat) worked; 清明 4-04 (Sat)..4-06 (Mon) off; 劳动节
5-01 (Fri)..5-05 (Tue) off, 5-09 (Sat) worked; 端午 6-19 (Fri)..6-21 off; 中秋 9-25 (Fri)..9-27 off;
国庆 10-01 (Thu)..10-07 (Wed) off, 9-20 (Sun) and 10-10 (Sat) worked.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from engine.errors import Invalid
from sla.calendar import DueDate, WorkingCalendar, YearNotCovered, load_calendar
from sla.calendar_files import YearStatus

D = date.fromisoformat

# (start, working days, due, why) - day 1 is the first working day after the start.
DUE_DATES = [
    # New Year 2025: 1-01 off, no adjusted day.
    ("2024-12-31", 1, "2025-01-02", "1-01 off"),
    ("2024-12-30", 2, "2025-01-02", "12-31, [1-01 off], 1-02"),
    ("2024-12-27", 5, "2025-01-06", "12-30, 12-31, 1-02, 1-03, 1-06"),
    # Spring Festival 2025.
    ("2025-01-24", 1, "2025-01-26", "Sat off, Sun 1-26 worked"),
    ("2025-01-24", 2, "2025-01-27", "1-26, 1-27"),
    ("2025-01-24", 3, "2025-02-05", "1-26, 1-27, [1-28..2-04 off], 2-05"),
    ("2025-01-27", 1, "2025-02-05", "whole festival skipped"),
    ("2025-01-26", 1, "2025-01-27", "start on a worked Sunday"),
    ("2025-02-05", 3, "2025-02-08", "2-06, 2-07, Sat 2-08 worked"),
    ("2025-02-05", 4, "2025-02-10", "2-09 Sun off"),
    ("2025-01-20", 10, "2025-02-08", "5 before the festival incl. 1-26, 2-05..2-08 after"),
    ("2025-01-15", 20, "2025-02-18", "7 before, 1-26, 1-27, 2-05..2-08, 2-10..2-14, 2-17, 2-18"),
    ("2025-01-02", 45, "2025-03-12", "joint-handling limit across the festival"),
    # Qingming 2025.
    ("2025-04-03", 1, "2025-04-07", "4-04..4-06 off"),
    ("2025-04-02", 2, "2025-04-07", "4-03, 4-07"),
    ("2025-03-31", 5, "2025-04-08", "4-01..4-03, 4-07, 4-08"),
    ("2025-04-03", 20, "2025-05-06", "Qingming, worked Sun 4-27 and Labour Day in one count"),
    # Labour Day 2025.
    ("2025-04-25", 1, "2025-04-27", "Sat off, Sun 4-27 worked"),
    ("2025-04-25", 5, "2025-05-06", "4-27..4-30, [5-01..5-05 off], 5-06"),
    ("2025-04-30", 1, "2025-05-06", "5-01..5-05 off"),
    ("2025-04-21", 10, "2025-05-07", "4-22..4-25, 4-27..4-30, 5-06, 5-07"),
    # Dragon Boat 2025.
    ("2025-05-30", 1, "2025-06-03", "5-31..6-02 off"),
    ("2025-05-29", 3, "2025-06-04", "5-30, 6-03, 6-04"),
    # National Day and Mid-Autumn 2025.
    ("2025-09-26", 1, "2025-09-28", "Sat off, Sun 9-28 worked"),
    ("2025-09-26", 4, "2025-10-09", "9-28, 9-29, 9-30, [10-01..10-08 off], 10-09"),
    ("2025-09-30", 1, "2025-10-09", "10-01..10-08 off"),
    ("2025-10-08", 3, "2025-10-11", "10-09, 10-10, Sat 10-11 worked"),
    ("2025-10-09", 3, "2025-10-13", "10-10, 10-11, [Sun off], 10-13"),
    ("2025-10-10", 1, "2025-10-11", "Sat 10-11 worked"),
    ("2025-09-19", 20, "2025-10-23", "naive Mon-Fri would say 10-17"),
    # New Year 2026, counted from 2025.
    ("2025-12-31", 1, "2026-01-04", "1-01..1-03 off, Sun 1-04 worked"),
    ("2025-12-31", 2, "2026-01-05", "1-04, 1-05"),
    ("2025-12-29", 3, "2026-01-04", "12-30, 12-31, 1-04"),
    ("2025-12-26", 5, "2026-01-05", "12-29..12-31, 1-04, 1-05"),
    ("2025-11-20", 45, "2026-01-23", "joint-handling limit across the year end"),
    # Spring Festival 2026.
    ("2026-02-12", 20, "2026-03-18", "DOMAIN.md example; naive Mon-Fri says 2026-03-12"),
    ("2026-02-13", 1, "2026-02-14", "Sat 2-14 worked"),
    ("2026-02-13", 2, "2026-02-24", "2-14, [2-15..2-23 off], 2-24"),
    ("2026-02-14", 1, "2026-02-24", "start on the worked Saturday"),
    ("2026-02-26", 2, "2026-02-28", "2-27, Sat 2-28 worked"),
    ("2026-02-27", 2, "2026-03-02", "2-28, 3-02"),
    ("2026-02-09", 10, "2026-02-28", "2-10..2-14, 2-24..2-28"),
    ("2026-03-18", 10, "2026-04-01", "the DOMAIN example extended by 10"),
    # Qingming 2026.
    ("2026-04-03", 1, "2026-04-07", "4-04..4-06 off"),
    ("2026-04-02", 2, "2026-04-07", "4-03, 4-07"),
    ("2026-04-03", 20, "2026-05-07", "Qingming and Labour Day in one count"),
    # Labour Day 2026.
    ("2026-04-30", 1, "2026-05-06", "5-01..5-05 off"),
    ("2026-04-30", 4, "2026-05-09", "5-06, 5-07, 5-08, Sat 5-09 worked"),
    ("2026-04-30", 5, "2026-05-11", "5-10 Sun off"),
    # Dragon Boat 2026.
    ("2026-06-18", 1, "2026-06-22", "6-19..6-21 off"),
    ("2026-06-17", 2, "2026-06-22", "6-18, 6-22"),
    # Mid-Autumn and National Day 2026.
    ("2026-09-18", 1, "2026-09-20", "Sat off, Sun 9-20 worked"),
    ("2026-09-24", 1, "2026-09-28", "9-25..9-27 off"),
    ("2026-09-28", 3, "2026-10-08", "9-29, 9-30, [10-01..10-07 off], 10-08"),
    ("2026-10-08", 2, "2026-10-10", "10-09, Sat 10-10 worked"),
    ("2026-09-18", 10, "2026-10-09", "9-20..9-24, 9-28..9-30, 10-08, 10-09"),
    ("2026-09-30", 20, "2026-11-03", "10-08..10-10, then four plain weeks less two days"),
]


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(None)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# A made-up 2027 for tests only (the shape of the README example); NOT the official arrangement.
FICTIONAL_2027 = """\
year: 2027
status: official
source: "test fixture, not a real notice"
holidays: ["2027-01-01", "2027-02-06..2027-02-12"]
workdays: ["2027-02-14"]
closures: []
"""


def test_the_table_is_big_enough():
    assert len(DUE_DATES) >= 45


@pytest.mark.parametrize(
    ("start", "n", "expected", "why"), DUE_DATES, ids=[f"{s}+{n}" for s, n, *_ in DUE_DATES]
)
def test_due_dates_follow_the_official_arrangements(calendar, start, n, expected, why):
    # Given an acceptance day and a limit, When the due date is computed, Then it is the hand-counted day
    due = calendar.add_working_days(D(start), n)
    assert due.date == D(expected), why
    assert due.provisional is False
    assert due.calendar_version == calendar.version


def test_naive_monday_to_friday_would_be_wrong_for_the_domain_example(calendar):
    # 20 Mon-Fri days after Thu 2026-02-12 end on 2026-03-12; the holiday and two worked Saturdays move it.
    assert calendar.add_working_days(D("2026-02-12"), 20).date == D("2026-03-18")
    assert calendar.add_working_days(D("2026-02-12"), 20).date != D("2026-03-12")


def test_library_adjusted_days_match_the_notices(calendar):
    # Cross-check of the package's data against the notices' 调休上班 lists.
    assert calendar.arrangement(2025).workdays == {
        D("2025-01-26"),
        D("2025-02-08"),
        D("2025-04-27"),
        D("2025-09-28"),
        D("2025-10-11"),
    }
    assert calendar.arrangement(2026).workdays == {
        D("2026-01-04"),
        D("2026-02-14"),
        D("2026-02-28"),
        D("2026-05-09"),
        D("2026-09-20"),
        D("2026-10-10"),
    }
    weekday_holidays_2026 = {d for d in calendar.arrangement(2026).holidays if d.weekday() < 5}
    assert len(weekday_holidays_2026) == 19  # 2 + 6 + 1 + 3 + 1 + 1 + 5 weekdays off, by the notice


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-01-01", False),
        ("2025-01-26", True),
        ("2025-01-28", False),
        ("2025-02-08", True),
        ("2025-10-08", False),
        ("2025-10-11", True),
        ("2025-10-12", False),
        ("2026-01-02", False),
        ("2026-01-04", True),
        ("2026-02-16", False),
        ("2026-02-28", True),
        ("2026-09-25", False),
        ("2026-10-10", True),
        ("2026-10-17", False),
        ("2026-10-19", True),
    ],
)
def test_is_working_day(calendar, day, working):
    assert calendar.is_working_day(D(day)) is working


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        ("2026-02-12", "2026-03-18", 20),
        ("2025-09-30", "2025-10-08", 0),
        ("2025-12-31", "2026-01-04", 1),
        ("2025-01-24", "2025-02-08", 6),
        ("2026-03-18", "2026-03-18", 0),
        ("2026-03-18", "2026-02-12", 0),
    ],
)
def test_working_days_between_counts_the_half_open_span(calendar, a, b, count):
    assert calendar.working_days_between(D(a), D(b)) == count


def test_zero_days_is_the_start_and_negative_is_refused(calendar):
    assert calendar.add_working_days(D("2026-02-15"), 0).date == D("2026-02-15")
    with pytest.raises(Invalid):
        calendar.add_working_days(D("2026-02-15"), -1)


def test_years_covered_and_status(calendar):
    years = calendar.years_covered()
    assert years[0] == 2004 and years[-1] == 2026
    assert calendar.year_status(2026) is YearStatus.OFFICIAL
    assert calendar.year_status(2027) is YearStatus.MISSING


def test_a_year_without_data_is_refused_naming_the_year(calendar):
    # Given no 2027 data, When a deadline reaches into 2027, Then it is refused, naming 2027
    with pytest.raises(YearNotCovered) as caught:
        calendar.add_working_days(D("2026-12-31"), 1)
    assert caught.value.year == 2027
    assert "2027" in str(caught.value)
    assert isinstance(caught.value, Invalid)
    with pytest.raises(YearNotCovered):
        calendar.is_working_day(D("2027-03-01"))
    with pytest.raises(YearNotCovered):
        calendar.working_days_between(D("2026-12-01"), D("2027-01-10"))


def test_a_provisional_answer_is_monday_to_friday_and_marked(calendar):
    # Fri 2027-01-01 is taken as a working day only because the answer is provisional.
    due = calendar.add_working_days(D("2026-12-31"), 1, provisional=True)
    assert due == DueDate(D("2027-01-01"), True, calendar.version)
    # 22 working days left in December 2026 after 12-01, then Mon-Fri in 2027.
    assert calendar.add_working_days(D("2026-12-01"), 40, provisional=True).date == D("2027-01-26")
    # A computation that stays in covered years is not marked even when allowed to be provisional.
    assert calendar.add_working_days(D("2026-12-01"), 5, provisional=True).provisional is False


def test_an_office_file_adds_a_year(tmp_path):
    write(tmp_path, "2027.yaml", FICTIONAL_2027)
    calendar = load_calendar(tmp_path)
    assert calendar.years_covered()[-1] == 2027
    assert calendar.year_status(2027) is YearStatus.OFFICIAL
    # Thu 2026-12-31 + 1: Fri 2027-01-01 is off in the file -> Mon 2027-01-04.
    assert calendar.add_working_days(D("2026-12-31"), 1) == DueDate(D("2027-01-04"), False, calendar.version)
    # Fri 2027-02-05 + 1: 2-06..2-12 off, Sat 2-13 off, Sun 2-14 worked.
    assert calendar.add_working_days(D("2027-02-05"), 1).date == D("2027-02-14")
    assert "test fixture" in calendar.arrangement(2027).sources[0]


def test_a_provisional_office_year_marks_results_touching_it(tmp_path):
    write(tmp_path, "2027.yaml", FICTIONAL_2027.replace("status: official", "status: provisional"))
    calendar = load_calendar(tmp_path)
    assert calendar.year_status(2027) is YearStatus.PROVISIONAL
    due = calendar.add_working_days(D("2026-12-31"), 1)
    assert due.date == D("2027-01-04") and due.provisional is True
    assert calendar.add_working_days(D("2026-12-01"), 1).provisional is False


def test_an_office_file_replaces_the_library_for_its_year(tmp_path):
    # A 2026 file with no holidays and no worked weekends: plain Mon-Fri, the naive answer.
    write(tmp_path, "2026.yaml", 'year: 2026\nstatus: official\nsource: "test"\nholidays: []\nworkdays: []\n')
    calendar = load_calendar(tmp_path)
    assert calendar.add_working_days(D("2026-02-12"), 20).date == D("2026-03-12")
    assert calendar.is_working_day(D("2026-02-14")) is False
    # Other years keep the library's data.
    assert calendar.is_working_day(D("2025-01-26")) is True


def test_closures_add_to_the_library_year(tmp_path):
    # A closures-only file keeps the notice's dates; the office is shut Mon 3-02 and Tue 3-03.
    text = 'year: 2026\nstatus: official\nsource: "office notice"\nclosures: ["2026-03-02..2026-03-03"]\n'
    write(tmp_path, "2026.yml", text)
    calendar = load_calendar(tmp_path)
    assert calendar.add_working_days(D("2026-02-12"), 20).date == D("2026-03-20")
    assert calendar.arrangement(2026).closures == {D("2026-03-02"), D("2026-03-03")}
    assert len(calendar.arrangement(2026).sources) == 2


def test_a_closure_wins_over_a_worked_weekend(tmp_path):
    write(tmp_path, "2026.yaml", 'year: 2026\nstatus: official\nsource: "x"\nclosures: [2026-02-14]\n')
    calendar = load_calendar(tmp_path)
    assert calendar.add_working_days(D("2026-02-13"), 1).date == D("2026-02-24")


def test_a_closure_in_a_file_year(tmp_path):
    write(tmp_path, "2027.yaml", FICTIONAL_2027.replace("closures: []", 'closures: ["2027-01-04"]'))
    calendar = load_calendar(tmp_path)
    assert calendar.add_working_days(D("2026-12-31"), 1).date == D("2027-01-05")


def test_version_is_stable_and_follows_content_not_names(tmp_path):
    library_only = load_calendar(None).version
    assert library_only == load_calendar(None).version
    assert library_only.startswith("chinesecalendar-")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write(first, "2027.yaml", FICTIONAL_2027)
    write(second, "calendar-2027.yml", FICTIONAL_2027)
    assert load_calendar(first).version == load_calendar(second).version != library_only
    write(second, "calendar-2027.yml", FICTIONAL_2027.replace('"2027-01-01", ', ""))
    assert load_calendar(second).version != load_calendar(first).version


def test_other_files_in_the_directory_are_ignored(tmp_path):
    write(tmp_path, "README.md", "# not a calendar file")
    assert load_calendar(tmp_path).version == load_calendar(None).version


def problems_of(tmp_path: Path, text: str, name: str = "2027.yaml") -> list:
    path = write(tmp_path, name, text)
    with pytest.raises(Invalid) as caught:
        load_calendar(tmp_path)
    assert all(p.file == str(path) for p in caught.value.problems)
    return caught.value.problems


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (('"2027-01-01"', '"2027-13-01"'), "holidays[0]", "bad date"),
        (('"2027-01-01"', '"01/01/2027"'), "holidays[0]", "bad date"),
        (("2027-02-06..2027-02-12", "2027-02-12..2027-02-06"), "holidays[1]", "range reversed"),
        (('"2027-01-01"', '"2026-12-31"'), "holidays[0]", "not in 2027"),
        (('["2027-02-14"]', '["2028-02-13"]'), "workdays[0]", "not in 2027"),
        (("status: official", "status: draft"), "status", "unknown status"),
        (("status: official\n", ""), "status", "required"),
        (("year: 2027", "year: twenty"), "year", "expected a year"),
        (('source: "test fixture, not a real notice"\n', ""), "source", "required"),
        (("closures: []", "closure: []"), "closure", "unknown field"),
        (('["2027-02-14"]', '["2027-02-15"]'), "workdays", "Monday"),
        (('["2027-02-14"]', '["2027-02-07"]'), "workdays", "both as a holiday and as a workday"),
        (('workdays: ["2027-02-14"]\n', ""), "workdays", "give both holidays and workdays"),
        (("closures: []", "closures: 2027-01-04"), "closures", "expected a list"),
    ],
)
def test_invalid_files_are_refused_naming_file_and_field(tmp_path, change, field, words):
    old, new = change
    assert old in FICTIONAL_2027
    problems = problems_of(tmp_path, FICTIONAL_2027.replace(old, new, 1))
    assert any(p.field == field and words in p.message for p in problems), problems
    assert all(p.line is None or p.line >= 1 for p in problems)


def test_a_bad_item_names_its_line(tmp_path):
    text = FICTIONAL_2027.replace(
        'holidays: ["2027-01-01", "2027-02-06..2027-02-12"]', 'holidays:\n  - "2027-01-01"\n  - "2027-02-30"'
    )
    [problem] = problems_of(tmp_path, text)
    assert (problem.field, problem.line) == ("holidays[1]", 6)
    assert "2027.yaml:6" in str(problem)


def test_every_problem_is_reported_at_once(tmp_path):
    text = FICTIONAL_2027.replace("official", "final").replace("2027-01-01", "2027-1-1")
    problems = problems_of(tmp_path, text)
    assert {p.field for p in problems} == {"status", "holidays[0]"}


def test_bad_yaml_names_file_and_line(tmp_path):
    [problem] = problems_of(tmp_path, "year: 2027\nholidays: [2027-01-01\n")
    assert "YAML" in problem.message and problem.line is not None


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    [problem] = problems_of(tmp_path, "- 2027-01-01\n")
    assert "mapping" in problem.message


def test_two_files_for_one_year_are_refused(tmp_path):
    write(tmp_path, "a.yaml", FICTIONAL_2027)
    write(tmp_path, "b.yaml", FICTIONAL_2027)
    with pytest.raises(Invalid) as caught:
        load_calendar(tmp_path)
    [problem] = caught.value.problems
    assert problem.field == "year" and problem.file.endswith("b.yaml") and "a.yaml" in problem.message


def test_a_closures_only_file_needs_library_data(tmp_path):
    text = 'year: 2027\nstatus: official\nsource: "x"\nclosures: ["2027-01-04"]\n'
    path = write(tmp_path, "2027.yaml", text)
    with pytest.raises(Invalid) as caught:
        load_calendar(tmp_path)
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == (str(path), "holidays")
    assert "2027" in problem.message


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(Invalid) as caught:
        load_calendar(tmp_path / "nowhere")
    assert caught.value.problems[0].file == str(tmp_path / "nowhere")


def test_a_thousand_working_days_are_cheap(calendar):
    # Given a long span over covered years, When it is added many times, Then it stays well under a second
    started = time.perf_counter()
    for offset in range(200):
        due = calendar.add_working_days(D("2004-01-05") + timedelta(days=offset), 1000)
    assert time.perf_counter() - started < 1.0
    # and the answer is consistent with counting back.
    assert calendar.working_days_between(D("2004-01-05") + timedelta(days=199), due.date) == 1000
    assert calendar.is_working_day(due.date)


def test_building_the_calendar_is_cheap():
    started = time.perf_counter()
    load_calendar(None)
    assert time.perf_counter() - started < 1.0
