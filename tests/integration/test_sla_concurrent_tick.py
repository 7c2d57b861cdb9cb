"""Acceptance 3: `onewindow tick` run by two OS processes at once over the same instant raises each
alert once (PostgreSQL: advisory lock, and the unique constraint underneath it)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select

from engine import broker, clock, office
from sla.models import Alert, AlertDelivery
from tests import conftest
from tests.conftest import ROOT, Api, deploy_reference
from tests.integration.sla_helpers import start_and_accept

pytestmark = pytest.mark.postgres
INSTANT = datetime.combine(date(2026, 4, 15), time(10), office.zone).isoformat()


def _seed(app, n: int) -> None:
    with clock.frozen(datetime.combine(date(2026, 3, 2), time(10), office.zone)):
        conftest._tokens.clear()
        window = Api(app, "window1")
        for _ in range(n):
            start_and_accept(app, window, "张三")
    broker.drain()


def _run_two(app, tmp_path, *args: str) -> list[str]:
    env = {**os.environ, "ONEWINDOW_DATABASE_URL": app.extensions["onewindow.db"].url,
           "ONEWINDOW_INSTANCE_DIR": str(tmp_path), "ONEWINDOW_SECRET_KEY": "x" * 32}
    env.pop("ONEWINDOW_REDIS_URL", None)
    cmd = [sys.executable, "-m", "onewindow.cli", *args]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
        outs.append(out)
    return outs


def _raised(output: str) -> int:
    found = re.search(r"\{[^{}]*alerts_raised[^{}]*\}", output)  # the sweep's line among every tick hook's
    return ast.literal_eval(found.group(0)).get("alerts_raised", 0) if found else 0


def _counts(app) -> tuple[int, int, int]:
    with app.extensions["onewindow.db"].read() as s:
        alerts = s.scalar(select(func.count()).select_from(Alert))
        distinct = s.scalar(select(func.count()).select_from(
            select(Alert.case_id, Alert.step, Alert.level, Alert.rule_id).distinct().subquery()))
        inbox = s.scalar(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.channel == "inbox"))
    return alerts, distinct, inbox


def test_two_tick_processes_raise_each_alert_once(pg_app, tmp_path):
    # Given 3 cases accepted on 2026-03-02 (their intake steps, done the day they opened, raised nothing)
    deploy_reference(pg_app)
    _seed(pg_app, 3)
    before, _, _ = _counts(pg_app)
    assert before == 0
    # When two processes tick at the same instant, long after every deadline
    outs = _run_two(pg_app, tmp_path, "tick", "--now", INSTANT)
    # Then each case got, once: the handle step's and the case's supervisor-red and director-red-3
    alerts, distinct, inbox = _counts(pg_app)
    assert alerts == distinct == before + 3 * 4
    assert sum(_raised(o) for o in outs) == 3 * 4
    # (one process swept, the other found the lock taken or nothing left to move)
    # and one inbox delivery per person, step and level: red to market_lead and the director (who
    # supervises market_dept too) for the step and the case; director-red-3 tells the director nothing new
    assert inbox == 3 * 2 * 2


def test_two_sweeps_without_the_lock_still_raise_once(pg_app, tmp_path):
    deploy_reference(pg_app)
    _seed(pg_app, 8)
    before, _, _ = _counts(pg_app)
    outs = _run_two(pg_app, tmp_path, "sla", "sweep", "--no-lock", "--now", INSTANT)
    alerts, distinct, _ = _counts(pg_app)
    assert alerts == distinct == before + 8 * 4
    assert sum(_raised(o) for o in outs) == 8 * 4


def test_two_sweeps_recording_the_calendar_version_at_once_both_succeed(pg_app):
    # both find no row; the second insert waits for the first, fails on the key in its savepoint,
    # and that sweep goes on with the row the first one wrote
    import threading

    from sla.models import SlaState
    from sla.sweep import _record_calendar_version

    db = pg_app.extensions["onewindow.db"]
    first_inserted, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with db.unit_of_work() as uow:
                _record_calendar_version(uow, "v-test")
                uow.session.flush()
                first_inserted.set()
                release_first.wait(30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def second():
        try:
            with db.unit_of_work() as uow:
                assert uow.session.get(SlaState, "calendar") is None  # the first has not committed
                _record_calendar_version(uow, "v-test")
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_inserted.wait(30)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)  # the second's insert now waits on the first's uncommitted key
    release_first.set()
    a.join(30)
    b.join(30)
    assert errors == []
    with db.read() as s:
        assert s.get(SlaState, "calendar").value == {"version": "v-test"}
