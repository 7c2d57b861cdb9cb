"""Warning levels, day by day, for a case clock over Spring Festival 2026 and a paused step clock.

Hand count: a case accepted Tue 2026-02-10 with 5 working days is due Tue 2-24 (2-11, 2-12, 2-13,
Sat 2-14 worked, [2-15..2-23 off], 2-24).
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Invalid
from sla.calendar import WorkingCalendar, load_calendar
from sla.ledger import Paused, Resumed, Started, Stopped, read_clock
from sla.levels import DEFAULT_YELLOW_THRESHOLD, Level, clock_level, level

D = date.fromisoformat
G, Y, R = Level.GREEN, Level.YELLOW, Level.RED

# day: (working days left in (day, 2-24], level with threshold 0, 1 (default), 2)
CASE_TIMELINE = {
    "2026-02-10": (5, G, G, G),
    "2026-02-11": (4, G, G, G),
    "2026-02-12": (3, G, G, G),
    "2026-02-13": (2, G, G, Y),
    "2026-02-14": (1, G, Y, Y),
    "2026-02-15": (1, G, Y, Y),
    "2026-02-18": (1, G, Y, Y),
    "2026-02-23": (1, G, Y, Y),
    "2026-02-24": (0, Y, Y, Y),
    "2026-02-25": (None, R, R, R),
    "2026-02-26": (None, R, R, R),
}


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(None)


def test_default_threshold_is_one_working_day():
    assert DEFAULT_YELLOW_THRESHOLD == 1


@pytest.mark.parametrize("day", CASE_TIMELINE)
def test_case_clock_each_day(calendar, day):
    left, at_zero, at_one, at_two = CASE_TIMELINE[day]
    today = D(day)
    # Given the case clock read on that day
    reading = read_clock(calendar, 5, [Started(D("2026-02-10"))], today)
    assert reading.due.date == D("2026-02-24")
    if left is not None:
        assert reading.remaining == left
    # Then the levels for each threshold are the hand-made ones
    assert clock_level(calendar, reading, today, threshold=0) is at_zero
    assert clock_level(calendar, reading, today) is at_one
    assert clock_level(calendar, reading, today, threshold=2) is at_two
    # and grading the bare due date agrees.
    assert level(calendar, D("2026-02-24"), today) is at_one


# A step with 2 working days from Mon 3-02 (due Wed 3-04), waiting on another department from Tue
# 3-03 to Thu 3-05: (3-03, 3-05] holds 2 working days, so it is due Fri 3-06.
STEP = [Started(D("2026-03-02")), Paused(D("2026-03-03"), "waiting for the health department")]
STEP_RESUMED = [*STEP, Resumed(D("2026-03-05"))]
STEP_TIMELINE = {
    # day: (due as read that day, level)
    "2026-03-02": ("2026-03-04", G),  # 3-03, 3-04 left
    "2026-03-03": ("2026-03-04", Y),  # paused today: one day left, nothing moved yet
    "2026-03-04": ("2026-03-05", Y),  # open pause projected as resumed today
    "2026-03-05": ("2026-03-06", Y),  # resumed
    "2026-03-06": ("2026-03-06", Y),  # due today
    "2026-03-07": ("2026-03-06", R),
    "2026-03-09": ("2026-03-06", R),
}


@pytest.mark.parametrize("day", STEP_TIMELINE)
def test_step_clock_each_day(calendar, day):
    due, expected = STEP_TIMELINE[day]
    reading = read_clock(calendar, 2, STEP_RESUMED, D(day))
    assert reading.due.date == D(due)
    assert clock_level(calendar, reading, D(day)) is expected


def test_a_stopped_clock_is_red_only_if_it_finished_late(calendar):
    on_time = read_clock(calendar, 2, [*STEP_RESUMED, Stopped(D("2026-03-06"))], D("2026-03-20"))
    late = read_clock(calendar, 2, [*STEP_RESUMED, Stopped(D("2026-03-09"))], D("2026-03-20"))
    assert clock_level(calendar, on_time, D("2026-03-20")) is G
    assert clock_level(calendar, late, D("2026-03-20")) is R


def test_a_clock_not_started_is_green(calendar):
    assert clock_level(calendar, read_clock(calendar, 2, [], D("2026-03-02")), D("2026-03-02")) is G


def test_a_provisional_due_date_is_graded_provisionally(calendar):
    # Thu 2026-12-31 + 1 reaches Fri 2027-01-01, a Mon-Fri guess.
    reading = read_clock(calendar, 1, [Started(D("2026-12-31"))], D("2026-12-31"), provisional=True)
    assert reading.provisional
    assert clock_level(calendar, reading, D("2026-12-31")) is Y


def test_a_negative_threshold_is_refused(calendar):
    with pytest.raises(Invalid) as caught:
        level(calendar, D("2026-03-06"), D("2026-03-02"), threshold=-1)
    assert caught.value.problems[0].field == "threshold"
