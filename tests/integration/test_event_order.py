"""Subscribers reach the same end state whatever order a case's events arrive in and however often.

The event streams are real: every path of bpmn/processes/one_window.bpmn is run once through the HTTP
API on days spread over weeks, with delivery held back, so each case's domain events sit in the
outbox undelivered. Hypothesis then hands them to ``engine.events.handle_through`` (what the
``deliver`` actor runs) shuffled and with repeats, on a fresh copy of that database each time, runs
the SLA sweep weeks later, and compares clocks, ledgers, levels, alerts and their deliveries, and the
due dates written onto cases and tasks, with handing them out once each in order.
"""

from __future__ import annotations

import random
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from engine import broker, cases, clock, events
from engine.db import Database
from engine.identity import SYSTEM, Actor
from engine.models import Case, CaseEvent, EventDelivery, Task
from sla import sweep
from sla.models import Alert, AlertDelivery, Clock, ClockEntry
from tests.conftest import deploy_reference, drop_pg_database, fresh_pg_database, make_app, member_for

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2026-03-02 09:00 in Beijing
SWEEP_AT = T0 + timedelta(days=75)
CHAIN = [("handle", {"outcome": "submit", "opinion": "同意"}), ("review", {"outcome": "pass", "opinion": "同意"}),
         ("approve", {"outcome": "approved", "opinion": "准予许可"})]
ISSUE = ("issue_result", {"delivery": "pickup", "certificate_no": "C-1"})

# Each path: the category, then its steps: (element, form data), ("message", name) or ("timers", None);
# one step a day from T0, some days apart so that steps run late and clocks pause for a while.
PATHS = {
    "accept": ("food", [("intake", {"decision": "accept"}), *CHAIN, ISSUE]),
    "refuse_at_intake": ("food", [("intake", {"decision": "reject", "reason": "不属于本机关职权范围"})]),
    "refused_decision": ("food", [("intake", {"decision": "accept"}), *CHAIN[:2],
                                  ("approve", {"outcome": "refused", "opinion": "不符合条件"}), ISSUE]),
    "correction": ("food", [("intake", {"decision": "correction", "reason": "材料不全", "missing": ["M01"]}),
                            ("message", "materials_resubmitted"), ("intake", {"decision": "accept"}), *CHAIN, ISSUE]),
    "correction_withdrawn": ("food", [("intake", {"decision": "correction", "reason": "材料不全", "missing": ["M02"]}),
                                      ("timers", None)]),
    "send_backs": ("medical", [("intake", {"decision": "accept"}), CHAIN[0],
                               ("review", {"outcome": "send_back", "opinion": "退回补正"}), CHAIN[0],
                               CHAIN[1], ("approve", {"outcome": "send_back", "opinion": "请复核"}),
                               CHAIN[1], CHAIN[2], ISSUE]),
    "joint": ("catering", [("intake", {"decision": "accept"}), ("co_review", {"outcome": "agree", "opinion": "同意"}),
                           *CHAIN, ISSUE]),
    "supplement_pause": ("business", [("intake", {"decision": "accept"}),
                                      ("handle", {"outcome": "request_materials", "opinion": "请补充材料"}),
                                      ("message", "materials_supplemented"), *CHAIN, ISSUE]),
    "still_open_and_late": ("construction", [("intake", {"decision": "accept"}), CHAIN[0]]),
}
GAPS = [0, 1, 4, 2, 9, 1, 3, 6, 2, 1, 5]  # days between steps: some steps overrun their 1-5 working days


def _actor(group: str, element_id: str = "") -> Actor:
    return Actor(member_for(group, element_id), frozenset({group}))


def _run_path(app, category: str, steps: list) -> int:
    """Drive one case through ``steps`` with the engine's own services, one step every few days."""
    db = app.extensions["onewindow.db"]
    when = T0
    with clock.frozen(when), db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": category, "applicant_name": "示范餐饮店"},
                                _actor("front_desk"), subject="示范餐饮店")
        case_id = case.id
    for i, (what, data) in enumerate(steps):
        when = T0 + timedelta(days=61) if what == "timers" else when + timedelta(days=GAPS[i % len(GAPS)] + 1)
        with clock.frozen(when), db.unit_of_work() as uow:
            if what == "message":
                no = uow.session.get(Case, case_id).case_no
                cases.deliver_message(uow, no, data, {"materials": ["M01"]}, _actor("front_desk"))
            elif what == "timers":
                assert cases.fire_timers(uow, case_id, SYSTEM)
            else:
                task = uow.session.scalar(select(Task).where(Task.case_id == case_id, Task.element_id == what,
                                                             Task.state.in_(("open", "claimed"))))
                assert task is not None, (category, what)
                cases.complete(uow, task.id, data, _actor(task.group, task.element_id))
    return case_id


@pytest.fixture(scope="module")
def streams(tmp_path_factory, sqlite_template):
    """A database holding every path's case with its domain events undelivered, and each case's event ids."""
    tmp = tmp_path_factory.mktemp("event_order")
    target = tmp / "streams.db"
    shutil.copy(sqlite_template, target)
    app = make_app(tmp, f"sqlite:///{target}")
    deploy_reference(app)
    broker.stop_in_process_worker()  # hold delivery back: the events stay in the outbox
    try:
        case_ids = {name: _run_path(app, category, steps) for name, (category, steps) in PATHS.items()}
    finally:
        broker.get_broker().flush_all()
        broker.start_in_process_worker()
    db = app.extensions["onewindow.db"]
    with db.read() as s:
        assert not s.scalar(select(EventDelivery.event_id).limit(1)), "delivery was not held back"
        ids = {name: list(s.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case_id,
                                                               CaseEvent.domain.is_(True)).order_by(CaseEvent.id)))
               for name, case_id in case_ids.items()}
    db.dispose()
    return target, ids


def end_state(db: Database) -> dict:
    """What the subscribers made: every SLA row and the dates and levels they wrote onto cases and tasks."""
    with db.read() as s:
        clocks = {c.id: (c.case_id, c.step) for c in s.scalars(select(Clock))}
        return {
            "clocks": sorted((c.case_id, c.step, c.element_id, c.group, c.budget, c.state, tuple(c.paused_by or ()),
                              c.started_on, c.stopped_on, c.due_date, c.statutory_due_date, c.warn_date, c.check_on,
                              c.level) for c in s.scalars(select(Clock))),
            "ledgers": _ledgers(s, clocks),
            "alerts": sorted((a.case_id, a.step, a.level, a.rule_id, a.due_date, a.state, a.message)
                             for a in s.scalars(select(Alert))),
            "alert_deliveries": sorted((a.case_id, a.step, a.level, a.rule_id, d.channel, d.recipient, d.state)
                                       for d, a in s.execute(select(AlertDelivery, Alert).join(
                                           Alert, Alert.id == AlertDelivery.alert_id))),
            "cases": sorted(s.execute(select(Case.id, Case.accepted_on, Case.due_date, Case.statutory_due_date,
                                             Case.sla_level)).all()),
            "tasks": sorted(s.execute(select(Task.id, Task.due_at, Task.sla_level)).all()),
            "handled": sorted(s.execute(select(EventDelivery.event_id, EventDelivery.handler)).all()),
            "undelivered": list(s.scalars(select(CaseEvent.id).where(
                CaseEvent.domain.is_(True), CaseEvent.delivered_at.is_(None)).order_by(CaseEvent.id))),
        }


def _ledgers(session, clocks: dict) -> dict:
    """Each clock's ledger lines in the order they were written (ids differ between copies, order not)."""
    lines: dict = {}
    for e in session.scalars(select(ClockEntry).order_by(ClockEntry.id)):
        lines.setdefault(clocks[e.clock_id], []).append((e.kind, e.day, e.reason, e.working_days, e.actor, e.at))
    return lines


def hand_out(path: Path, copy: Path, order: list[int]) -> dict:
    shutil.copy(path, copy)
    db = Database(f"sqlite:///{copy}")
    try:
        for event_id in order:
            events.handle_through(db, event_id)
        sweep.sweep(db, SWEEP_AT)
        return end_state(db)
    finally:
        db.dispose()


@st.composite
def arrivals(draw, ids: list[int]) -> list[int]:
    """Each event at least once, some twice or more, in any order."""
    repeats = draw(st.lists(st.sampled_from(ids), max_size=len(ids)))
    return draw(st.permutations(ids + repeats))


_in_order: dict[str, dict] = {}


@pytest.mark.parametrize("path", list(PATHS))
def test_any_order_and_any_repeats_reach_the_in_order_end_state(path, streams, tmp_path_factory):
    source, ids = streams
    scratch = tmp_path_factory.mktemp(f"order_{path}") / "copy.db"
    if path not in _in_order:
        _in_order[path] = hand_out(source, scratch, ids[path])
    expected = _in_order[path]
    assert expected["handled"] and not set(ids[path]) & set(expected["undelivered"])

    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(arrivals(ids[path]))
    def check(order):
        assert hand_out(source, scratch, order) == expected

    check()


def test_the_paths_leave_what_the_process_promises(streams, tmp_path_factory):
    # Given every path handed out in order and swept weeks later
    source, ids = streams
    state = hand_out(source, tmp_path_factory.mktemp("promises") / "copy.db", [i for v in ids.values() for i in v])
    # Then only the case still open holds running clocks, and only its clocks are late
    running = {(c[0], c[1]) for c in state["clocks"] if c[5] in ("running", "paused")}
    with Database(f"sqlite:///{source}").read() as s:
        open_case = s.scalar(select(Case.id).where(Case.status == "running"))
    assert running and {case_id for case_id, _step in running} == {open_case}
    assert state["alerts"] and {a[0] for a in state["alerts"] if a[2] == "red"} == {open_case}
    # And the paused path's case clock has a pause and a resume in its ledger
    kinds = [line[0] for ledger in state["ledgers"].values() for line in ledger]
    assert "paused" in kinds and "resumed" in kinds


def test_concurrent_redeliveries_on_postgresql(tmp_path, pg_url, pg_template):
    # Given three cases on PostgreSQL whose events were never handed out
    url = fresh_pg_database(pg_url, pg_template)
    app = make_app(tmp_path, url)
    db = app.extensions["onewindow.db"]
    clone = None
    try:
        deploy_reference(app)
        broker.stop_in_process_worker()
        try:
            for name in ("joint", "send_backs", "supplement_pause"):
                _run_path(app, *PATHS[name])
        finally:
            broker.get_broker().flush_all()
            broker.start_in_process_worker()
        with db.read() as s:
            ids = list(s.scalars(select(CaseEvent.id).where(CaseEvent.domain.is_(True)).order_by(CaseEvent.id)))
        db.dispose()
        clone = fresh_pg_database(pg_url, url.rsplit("/", 1)[1])
        # When one copy gets them once each in order, and the other from six threads at once, shuffled and
        # each event three times (two creations of the same clock at the same instant included)
        reference = Database(clone)
        for event_id in ids:
            events.handle_through(reference, event_id)
        errors: list[BaseException] = []

        def worker(seed: int) -> None:
            order = ids * 3
            random.Random(seed).shuffle(order)
            try:
                for event_id in order[seed::6]:
                    events.handle_through(db, event_id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then no handler failed and both copies hold the same end state
        assert errors == []
        assert end_state(db) == end_state(reference)
        reference.dispose()
    finally:
        db.dispose()
        if clone:
            drop_pg_database(clone)
        drop_pg_database(url)
