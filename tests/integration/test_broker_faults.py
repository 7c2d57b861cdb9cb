"""Redis stopped or frozen under a real `onewindow worker`: nothing lost, nothing twice, no request held.

Each test starts its own `redis-server` on a free port (never the shared one) without persistence,
so a restart loses every queued message and every retry waiting in a delay queue. The worker runs
under a small supervisor here, as systemd would run it: restarted when it exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import broker, cases, clock, events, outbox
from engine.identity import Actor
from engine.models import CaseEvent, EventDelivery, Task
from sla.models import Clock, ClockEntry
from tests.conftest import IN_CI, ROOT, Api, deploy_reference, drop_pg_database, fresh_pg_database, make_app

DESK = Actor("window1", frozenset({"front_desk"}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, directory):
        self.port, self.directory = _free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.directory)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.time() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                assert time.time() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class SupervisedWorker:
    """`onewindow worker` restarted whenever it exits, as its supervisor would."""

    def __init__(self, env: dict[str, str]):
        self.env, self.restarts, self.exit_codes = env, 0, []
        self.proc = self._spawn()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "onewindow.cli", "worker", "--processes", "1", "--threads", "2"],
                                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            if self.proc.poll() is not None:
                self.exit_codes.append(self.proc.returncode)
                self.restarts += 1
                self.proc = self._spawn()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def office(tmp_path, pg_url, pg_template):
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server is not installed")
    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    url = fresh_pg_database(pg_url, pg_template)
    app = make_app(tmp_path, url, redis_url=redis_server.url)
    broker.stop_in_process_worker()  # the worker processes below do the work, not this test process
    deploy_reference(app)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEWINDOW_")}
    env.update(ONEWINDOW_DATABASE_URL=url, ONEWINDOW_REDIS_URL=redis_server.url,
               ONEWINDOW_INSTANCE_DIR=str(tmp_path / "worker"))
    worker = SupervisedWorker(env)
    try:
        yield app, redis_server, worker
    finally:
        worker.stop()
        redis_server.stop()
        app.extensions["onewindow.db"].dispose()
        broker.configure(None)  # later tests get the in-process broker back
        drop_pg_database(url)


def _start_and_accept(db) -> None:
    with db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": "food", "applicant_name": "示范餐饮店"}, DESK)
        case_id = case.id
    with db.unit_of_work() as uow:
        task = uow.session.scalar(select(Task.id).where(Task.case_id == case_id, Task.element_id == "intake"))
        cases.complete(uow, task, {"decision": "accept"}, DESK)


def _undelivered(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.domain.is_(True), CaseEvent.delivered_at.is_(None)))


def _wait_all_delivered(db, worker: SupervisedWorker, seconds: float = 120) -> None:
    """Run the outbox as the scheduler would (its backoff shortened) until every event is delivered."""
    deadline = time.time() + seconds
    while _undelivered(db):
        assert time.time() < deadline, f"{_undelivered(db)} events never delivered (worker exits: {worker.exit_codes})"
        outbox.resend_undelivered(db, clock.now(), first_after=timedelta(seconds=1), longest=timedelta(seconds=2))
        time.sleep(0.5)


def _assert_each_handled_once(db) -> None:
    with db.read() as s:
        domain = s.execute(select(CaseEvent.id, CaseEvent.kind).where(CaseEvent.domain.is_(True))).all()
        recorded = s.execute(select(EventDelivery.event_id, EventDelivery.handler)).all()
        # every subscriber recorded every event of its kind, and none twice
        expected = sorted((i, name) for i, kind in domain for name, _h in events._subscribers.get(kind, []))
        assert sorted(recorded) == expected
        # a handler that ran twice would have written a second ledger line; a lost one, none
        lines = s.execute(select(ClockEntry.clock_id, ClockEntry.kind, func.count())
                          .group_by(ClockEntry.clock_id, ClockEntry.kind)).all()
        assert all(n == 1 for _c, _k, n in lines), [line for line in lines if line[2] != 1]
        finished = set(s.scalars(select(Task.id).where(Task.state == "completed")))
        running = set(s.scalars(select(Clock.step).where(Clock.state.in_(("running", "paused")))))
        assert not finished & running, "step clocks run for finished tasks"
        assert set(s.scalars(select(Clock.step).where(Clock.step != ""))) == set(s.scalars(select(Task.id)))


def test_redis_stopped_for_10_s_during_a_burst(office, monkeypatch):
    app, redis_server, worker = office
    db = app.extensions["onewindow.db"]
    # Given a burst of applications being accepted
    done = threading.Event()
    failures: list[BaseException] = []

    def burst() -> None:
        try:
            for _ in range(24):
                _start_and_accept(db)
                time.sleep(0.4)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=burst)
    thread.start()
    time.sleep(2)
    # When Redis is stopped for 10 s in the middle of it, and comes back empty
    redis_server.stop()
    time.sleep(10)
    redis_server.start()
    thread.join(timeout=120)
    assert done.is_set() and failures == [], failures
    # Then, once the outbox has handed out what the broker lost, every event was handled by every
    # subscriber exactly once, and no clock was left running
    _wait_all_delivered(db, worker)
    _assert_each_handled_once(db)
    # And the worker consumes its delay queue (itself, or restarted by its supervisor)
    monkeypatch.setattr(events, "send", lambda event_id: False)  # this case's own send is held back
    _start_and_accept(db)
    with db.read() as s:
        newest = s.scalar(select(func.max(CaseEvent.id)))
    events.deliver.send_with_options(args=(newest,), delay=300)
    deadline = time.time() + 60
    while _undelivered(db):
        assert time.time() < deadline, f"the delayed message was never handled (worker exits: {worker.exit_codes})"
        time.sleep(0.2)
    assert all(code != 0 for code in worker.exit_codes), "a worker exited 0: its supervisor would not restart it"


def test_a_frozen_redis_never_holds_a_request(office):
    app, redis_server, worker = office
    db = app.extensions["onewindow.db"]
    api = Api(app, "window1")
    # Given Redis frozen (SIGSTOP: connections are accepted, nothing answers)
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        # When an application is registered
        started = time.perf_counter()
        r = api.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
        took = time.perf_counter() - started
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    # Then the answer came within a second, the case committed
    assert r.status_code == 201, r.get_json()
    assert took < 1.0, f"the request took {took:.2f} s"
    # And after the thaw its events are delivered
    _wait_all_delivered(db, worker)
    _assert_each_handled_once(db)
