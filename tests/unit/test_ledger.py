"""Clocks as budgets with a ledger: pauses, an open pause, extensions, stops, and refused ledgers.

Expected dates are counted by hand in the 2026 arrangement (春节 2-15..2-23 off, 2-14 and 2-28 Saturdays
worked; 清明 4-04..4-06 off). Without pauses, Thu 2026-02-12 + 20 working days is Wed 2026-03-18.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Invalid
from sla.calendar import WorkingCalendar, YearNotCovered, load_calendar
from sla.ledger import (
    ClockState,
    Extended,
    Paused,
    Resumed,
    Started,
    Stopped,
    check_extension,
    read_clock,
    validate_entries,
)

D = date.fromisoformat
START = Started(D("2026-02-12"))
# Special procedure (an inspection) from Mon 3-02; the applicant's report arrives Thu 3-05.
PAUSE = Paused(D("2026-03-02"), "on-site inspection")
RESUME = Resumed(D("2026-03-05"))


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(None)


def test_not_started(calendar):
    reading = read_clock(calendar, 20, [], D("2026-02-12"))
    assert reading.state is ClockState.NOT_STARTED
    assert reading.due is None and reading.used == 0 and reading.remaining == 20


def test_running_without_pauses(calendar):
    # Given a clock started Thu 2-12 with 20 working days, When read on Tue 3-10
    reading = read_clock(calendar, 20, [START], D("2026-03-10"))
    # Then 2-13, 2-14, 2-24..2-28 (7), 3-02..3-06 (5), 3-09, 3-10 are used: 14
    assert reading.state is ClockState.RUNNING
    assert reading.due.date == D("2026-03-18")
    assert (reading.used, reading.remaining) == (14, 6)
    assert reading.due.calendar_version == calendar.version and not reading.provisional


def test_on_the_start_day_nothing_is_used(calendar):
    reading = read_clock(calendar, 20, [START], D("2026-02-12"))
    assert (reading.used, reading.remaining) == (0, 20)


def test_a_closed_pause_moves_the_due_date(calendar):
    # (3-02, 3-05] holds 3-03, 3-04, 3-05: three working days not counted, so 3-18 moves to 3-23.
    reading = read_clock(calendar, 20, [START, PAUSE, RESUME], D("2026-03-10"))
    assert reading.state is ClockState.RUNNING
    assert reading.due.date == D("2026-03-23")
    assert reading.paused_working_days == 3
    # 14 working days passed, 3 of them paused: 11 used, 9 left (3-11..3-13, 3-16..3-20, 3-23).
    assert (reading.used, reading.remaining) == (11, 9)


def test_an_open_pause_projects_the_due_date_as_if_resumed_today(calendar):
    entries = [START, PAUSE]
    # On the pause day itself the day counts and nothing moves yet.
    on_pause_day = read_clock(calendar, 20, entries, D("2026-03-02"))
    assert on_pause_day.state is ClockState.PAUSED and on_pause_day.paused_since == D("2026-03-02")
    assert on_pause_day.due.date == D("2026-03-18")
    assert (on_pause_day.used, on_pause_day.remaining) == (8, 12)
    # Thu 3-05: as if resumed today, 3 days moved, as the closed pause above.
    assert read_clock(calendar, 20, entries, D("2026-03-05")).due.date == D("2026-03-23")
    # Mon 3-09: (3-02, 3-09] holds 5 working days -> 3-18 + 5 = 3-25; used stays 8.
    later = read_clock(calendar, 20, entries, D("2026-03-09"))
    assert later.due.date == D("2026-03-25")
    assert (later.used, later.remaining, later.paused_working_days) == (8, 12, 5)


def test_extensions_add_working_days(calendar):
    # The head approves 10 more working days on 3-16: 30 working days after 2-12 is 4-01; the pause
    # moves it 3 working days over Qingming: 4-02, 4-03, [4-04..4-06 off], 4-07.
    extension = Extended(D("2026-03-16"), 10, "expert review needed", "director")
    reading = read_clock(calendar, 20, [START, PAUSE, RESUME, extension], D("2026-03-16"))
    assert reading.due.date == D("2026-04-07")
    assert reading.budget == 30
    # Not yet in force the day before it was approved.
    assert read_clock(calendar, 20, [START, PAUSE, RESUME, extension], D("2026-03-13")).budget == 20


def test_a_stopped_clock_keeps_its_reading(calendar):
    entries = [START, PAUSE, RESUME, Stopped(D("2026-03-20"))]
    # 22 working days through 3-20, 3 paused: 19 used of 20.
    for today in (D("2026-03-20"), D("2026-04-30")):
        reading = read_clock(calendar, 20, entries, today)
        assert reading.state is ClockState.STOPPED and reading.stopped_on == D("2026-03-20")
        assert reading.due.date == D("2026-03-23")
        assert (reading.used, reading.remaining) == (19, 1)


def test_stopped_while_paused(calendar):
    # Withdrawn during the pause: the paused days up to the stop are not counted.
    reading = read_clock(calendar, 20, [START, PAUSE, Stopped(D("2026-03-05"))], D("2026-03-31"))
    assert reading.state is ClockState.STOPPED and reading.paused_since is None
    assert (reading.used, reading.paused_working_days) == (8, 3)


def test_a_pause_on_the_due_day_moves_it_to_the_resume_day(calendar):
    # Mon 3-02 + 3 = Thu 3-05; paused that day, resumed Tue 3-10: (3-05, 3-10] = 3-06, 3-09, 3-10.
    entries = [Started(D("2026-03-02")), Paused(D("2026-03-05"), "hearing"), Resumed(D("2026-03-10"))]
    assert read_clock(calendar, 3, entries, D("2026-03-10")).due.date == D("2026-03-10")


def test_a_pause_after_the_due_date_does_not_hide_the_delay(calendar):
    # Due Thu 3-05; paused Mon 3-09 when already overdue: the due date stays.
    entries = [Started(D("2026-03-02")), Paused(D("2026-03-09"), "hearing"), Resumed(D("2026-03-12"))]
    reading = read_clock(calendar, 3, entries, D("2026-03-13"))
    assert reading.due.date == D("2026-03-05")
    # Used: 3-03..3-06, 3-09, 3-13 = 6 (3-10..3-12 paused): 3 over budget.
    assert (reading.used, reading.remaining) == (6, -3)


def test_two_pauses(calendar):
    # Correction (补正) (2-13, 2-24] holds 2-14 and 2-24; inspection (3-02, 3-05] holds 3.
    entries = [
        START,
        Paused(D("2026-02-13"), "materials to correct"),
        Resumed(D("2026-02-24")),
        PAUSE,
        RESUME,
    ]
    reading = read_clock(calendar, 20, entries, D("2026-03-05"))
    # 3-18 + 2 = 3-20, + 3 = 3-25.
    assert reading.due.date == D("2026-03-25")
    assert reading.paused_working_days == 5


def test_entries_after_today_are_not_yet_in_force(calendar):
    entries = [START, PAUSE, RESUME]
    assert read_clock(calendar, 20, entries, D("2026-02-11")).state is ClockState.NOT_STARTED
    assert read_clock(calendar, 20, entries, D("2026-03-03")).state is ClockState.PAUSED


def test_a_clock_into_an_uncovered_year(calendar):
    entries = [Started(D("2026-12-01"))]
    with pytest.raises(YearNotCovered) as caught:
        read_clock(calendar, 40, entries, D("2026-12-01"))
    assert caught.value.year == 2027
    reading = read_clock(calendar, 40, entries, D("2026-12-01"), provisional=True)
    assert reading.due.date == D("2027-01-26") and reading.provisional


@pytest.mark.parametrize(
    ("budget", "entries", "index", "words"),
    [
        (20, [Resumed(D("2026-03-05"))], 0, "before the clock started"),
        (20, [START, RESUME], 1, "resumed without a pause"),
        (20, [START, PAUSE, RESUME, RESUME], 3, "resumed without a pause"),
        (20, [START, PAUSE, Paused(D("2026-03-03"), "again")], 2, "already paused"),
        (20, [START, Started(D("2026-02-13"))], 1, "already started"),
        (20, [START, Stopped(D("2026-03-01")), PAUSE], 2, "after the clock stopped"),
        (20, [START, Stopped(D("2026-03-01")), Stopped(D("2026-03-02"))], 2, "after the clock stopped"),
        (20, [START, PAUSE, Resumed(D("2026-03-01"))], 2, "dated before"),
        (20, [START, Paused(D("2026-03-02"), " ")], 1, "needs a reason"),
        (20, [START, Extended(D("2026-03-02"), 0, "why", "head")], 1, "at least one working day"),
        (20, [START, Extended(D("2026-03-02"), 5, "why", "")], 1, "approver"),
    ],
)
def test_invalid_ledgers_are_refused(calendar, budget, entries, index, words):
    with pytest.raises(Invalid) as caught:
        read_clock(calendar, budget, entries, D("2026-04-30"))
    assert any(p.field == f"entries[{index}]" and words in p.message for p in caught.value.problems)


def test_a_negative_budget_is_refused():
    with pytest.raises(Invalid) as caught:
        validate_entries(-1, [START])
    assert caught.value.problems[0].field == "budget"


def test_an_extension_must_be_approved_by_the_due_date(calendar):
    on_time = Extended(D("2026-03-18"), 10, "expert review", "director")
    check_extension(calendar, 20, [START], on_time)
    late = Extended(D("2026-03-19"), 10, "expert review", "director")
    with pytest.raises(Invalid) as caught:
        check_extension(calendar, 20, [START], late)
    assert "2026-03-18" in str(caught.value)
    with pytest.raises(Invalid):
        check_extension(calendar, 20, [START, Stopped(D("2026-03-01"))], on_time)
