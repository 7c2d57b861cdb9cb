"""The escalation chain file, and a clock's next dates (warn date, check date) without any I/O."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Invalid
from sla.calendar import load_calendar
from sla.clocks import compute, warn_date_of
from sla.escalation import DEFAULT_FILE, load_escalation
from sla.ledger import Extended, Paused, Resumed, Started, Stopped
from sla.models import Clock

CAL = load_calendar(None)
CHAIN = load_escalation(DEFAULT_FILE)


def clock(budget: int = 20, threshold: int | None = None) -> Clock:
    return Clock(budget=budget, threshold=threshold, service_code=None)


def test_office_chain_is_versioned_and_ordered():
    # Given the office's file, then yellow goes to the handler, red to the supervisors, and after
    # 3 working days still red to the director; every rule carries the file's version
    assert CHAIN.version == "1"
    assert [(r.id, r.level, r.notify, r.after_working_days) for r in CHAIN.rules] == [
        ("handler-yellow", "yellow", "handler", 0), ("supervisor-red", "red", "supervisors", 0),
        ("director-red-3", "red", "director", 3)]
    assert [r.id for r in CHAIN.rules_for("red", 3)] == ["supervisor-red"]
    assert [r.id for r in CHAIN.rules_for("red", 4)] == ["supervisor-red", "director-red-3"]
    assert CHAIN.director == ("director",)


def test_bad_chain_lists_every_problem(tmp_path):
    path = tmp_path / "escalation.yaml"
    path.write_text("version: 2\nrules:\n  - {id: a, level: orange, notify: mayor, channels: [fax]}\n"
                    "  - {id: a, level: red, notify: director, after_working_days: -1}\n", encoding="utf-8")
    with pytest.raises(Invalid) as caught:
        load_escalation(path)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["rules[0].level", "rules[0].notify", "rules[0].channels", "rules[1].id",
                      "rules[1].after_working_days"]


def test_service_threshold_overrides_the_office(tmp_path):
    path = tmp_path / "escalation.yaml"
    path.write_text("version: 3\nwarning_working_days: 1\nservices: {110105-XK-0001: {warning_working_days: 3}}\n"
                    "rules: []\n", encoding="utf-8")
    chain = load_escalation(path)
    assert chain.threshold("110105-XK-0001") == 3
    assert chain.threshold("other") == 1
    assert chain.threshold("110105-XK-0001", explicit=2) == 2  # the case's own limit wins


@pytest.mark.parametrize(("due", "threshold", "warn"), [
    (date(2026, 3, 30), 1, date(2026, 3, 27)),   # Monday due: yellow from the Friday before (and the weekend)
    (date(2026, 3, 18), 1, date(2026, 3, 17)),
    (date(2026, 3, 18), 2, date(2026, 3, 16)),
    (date(2026, 4, 7), 1, date(2026, 4, 3)),     # across Qingming (04-04..04-06)
    (date(2026, 10, 8), 1, date(2026, 9, 30)),   # across National Day (10-01..10-07)
    (date(2026, 3, 18), 0, date(2026, 3, 18)),   # threshold 0: yellow only on the due day
])
def test_warn_date(due, threshold, warn):
    assert warn_date_of(CAL, due, threshold, date(2026, 1, 1)) == warn


def test_next_check_dates_follow_the_level():
    # Given a clock started Mon 2026-03-02 with 20 working days (due Mon 03-30)
    entries = [Started(date(2026, 3, 2))]
    green = compute(CAL, CHAIN, clock(), entries, date(2026, 3, 10))
    assert (green.level, green.reading.due.date, green.warn_date, green.check_on) == (
        "green", date(2026, 3, 30), date(2026, 3, 27), date(2026, 3, 27))
    yellow = compute(CAL, CHAIN, clock(), entries, date(2026, 3, 27))
    assert (yellow.level, yellow.check_on) == ("yellow", date(2026, 3, 31))
    red = compute(CAL, CHAIN, clock(), entries, date(2026, 3, 31))
    # red: next check when the director's rule fires, the 4th working day past due
    assert (red.level, red.overdue, red.check_on) == ("red", 1, date(2026, 4, 3))
    later = compute(CAL, CHAIN, clock(), entries, date(2026, 4, 3))
    assert (later.overdue, later.check_on) == (4, None)  # nothing left to escalate


def test_paused_clock_is_checked_daily_and_stopped_clock_never():
    entries = [Started(date(2026, 3, 2)), Paused(date(2026, 3, 4), "await_supplement")]
    paused = compute(CAL, CHAIN, clock(), entries, date(2026, 3, 6))
    assert (paused.reading.state.value, paused.reading.due.date, paused.check_on) == (
        "paused", date(2026, 4, 1), date(2026, 3, 7))
    done = compute(CAL, CHAIN, clock(), [*entries, Resumed(date(2026, 3, 11)), Extended(
        date(2026, 3, 12), 5, "现场核查", "market_lead"), Stopped(date(2026, 4, 10))], date(2026, 4, 20))
    # 03-30 + 5 paused + 5 extended = 04-14; stopped 04-10: on time, nothing to check
    assert (done.level, done.reading.due.date, done.check_on, done.warn_date) == (
        "green", date(2026, 4, 14), None, None)


def test_statutory_due_date_beside_the_promised_one():
    c = clock(budget=5)
    c.statutory_budget = 10
    got = compute(CAL, CHAIN, c, [Started(date(2026, 3, 5))], date(2026, 3, 5))
    assert (got.reading.due.date, got.statutory_due) == (date(2026, 3, 12), date(2026, 3, 19))
