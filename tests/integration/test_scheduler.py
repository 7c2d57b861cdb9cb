"""One scheduler ticks: a second is harmless and takes over when the first dies; web processes never tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from engine.db import Database
from engine.leader import LeaderLock
from engine.models import SchedulerRun
from engine.scheduler import Scheduler, TickReport
from tests.conftest import ROOT, drop_pg_database, fresh_pg_database


def _counting_runner(calls: list):
    def runner(db, now):
        calls.append(now)
        return TickReport(now)

    return runner


def test_a_second_scheduler_waits_and_takes_over_when_the_first_dies(tmp_path, pg_url, pg_template):
    # Given `onewindow scheduler` running on PostgreSQL, ticking every second
    url = fresh_pg_database(pg_url, pg_template)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEWINDOW_")}
    env.update(ONEWINDOW_DATABASE_URL=url, ONEWINDOW_TICK_SECONDS="1", ONEWINDOW_INSTANCE_DIR=str(tmp_path / "i"))
    leader = subprocess.Popen([sys.executable, "-m", "onewindow.cli", "scheduler"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = Database(url)
    calls: list = []
    standby = Scheduler(db, 1, runner=_counting_runner(calls))
    try:
        deadline = time.time() + 60
        while True:
            with db.read() as s:
                run = s.get(SchedulerRun, "scheduler")
            if run is not None:
                break
            assert leader.poll() is None, leader.stdout.read()
            assert time.time() < deadline, "the scheduler never ticked"
            time.sleep(0.2)
        assert run.holder.endswith(f":{leader.pid}") and run.errors == 0
        # When a second scheduler tries to tick
        # Then it does nothing while the first leads
        assert standby.run_once() is None and calls == []
        # When the first dies without a word
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(timeout=30)
        # Then the second takes the lock at its next try and ticks, and says so
        deadline = time.time() + 30
        while standby.run_once() is None:
            assert time.time() < deadline, "the standby never took over"
            time.sleep(0.2)
        assert len(calls) == 1
        with db.read() as s:
            run = s.get(SchedulerRun, "scheduler", populate_existing=True)
        assert run.holder == standby.holder
    finally:
        if leader.poll() is None:
            leader.kill()
        leader.communicate(timeout=30)
        standby.lock.release()
        db.dispose()
        drop_pg_database(url)


def test_a_leader_whose_connection_was_cut_stops_until_it_leads_again(pg_url, pg_template):
    import sqlalchemy as sa

    url = fresh_pg_database(pg_url, pg_template)
    db = Database(url)
    first_calls: list = []
    second_calls: list = []
    first = Scheduler(db, 1, runner=_counting_runner(first_calls))
    second = Scheduler(db, 1, runner=_counting_runner(second_calls))
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        # Given the first leads
        assert first.run_once() is not None and second.run_once() is None
        # When the server cuts its lock's connection (a network fault, a DBA's pg_terminate_backend)
        with admin.connect() as c:
            pid = c.execute(sa.text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                    "AND database = (SELECT oid FROM pg_database WHERE datname = :n)"),
                            {"n": url.rsplit("/", 1)[1]}).scalar()
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        # Then the second takes over and the first, noticing at its next tick, does not tick
        deadline = time.time() + 10
        while second.run_once() is None:
            assert time.time() < deadline
            time.sleep(0.1)
        assert first.run_once() is None
        assert len(first_calls) == 1 and len(second_calls) == 1
    finally:
        first.lock.release()
        second.lock.release()
        admin.dispose()
        db.dispose()
        drop_pg_database(url)


def test_on_sqlite_the_lock_is_a_file_lock(tmp_path):
    # Given two schedulers of one SQLite database (the embedded default runs only one; this is the guard)
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first, second = LeaderLock(url), LeaderLock(url)
    try:
        # Then one holds it at a time, and releasing hands it on
        assert first.acquire() and first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


def test_web_processes_on_redis_never_tick(tmp_path, pg_url, pg_template, redis_url):
    from tests.e2e.test_serve_gunicorn import _env, _free_port, _serve, _stop

    # Given `serve` in production shape (Redis configured), a tick due every second
    url = fresh_pg_database(pg_url, pg_template)
    port = _free_port()
    proc = _serve(_env(tmp_path, ONEWINDOW_DATABASE_URL=url, ONEWINDOW_REDIS_URL=redis_url,
                       ONEWINDOW_TICK_SECONDS="1"), port)
    db = Database(url)
    try:
        # When several seconds pass
        time.sleep(3)
        # Then no web process ticked
        with db.read() as s:
            assert s.scalars(select(SchedulerRun)).all() == []
    finally:
        out = _stop(proc)
        db.dispose()
        drop_pg_database(url)
    assert "2 process(es)" in out and "embedded" not in out
