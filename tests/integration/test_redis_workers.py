"""Production shape: PostgreSQL + Redis, domain events handled by separate `onewindow worker` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT, Api, deploy_reference, drop_pg_database, fresh_pg_database, make_app


@pytest.fixture
def redis_app(tmp_path, pg_url, pg_template, redis_url):
    import redis

    from engine import broker

    redis.Redis.from_url(redis_url).flushdb()
    url = fresh_pg_database(pg_url, pg_template)
    app = make_app(tmp_path, url, redis_url=redis_url)
    yield app
    app.extensions["onewindow.db"].dispose()
    broker.configure(None)  # later tests get the in-process broker back
    drop_pg_database(url)


def test_worker_processes_on_redis_handle_domain_events(redis_app, redis_url, tmp_path):
    from engine.models import CaseEvent, EventDelivery

    deploy_reference(redis_app)
    db = redis_app.extensions["onewindow.db"]
    env = {**os.environ, "ONEWINDOW_DATABASE_URL": db.url, "ONEWINDOW_REDIS_URL": redis_url,
           "ONEWINDOW_INSTANCE_DIR": str(tmp_path / "worker")}
    worker = subprocess.Popen([sys.executable, "-m", "onewindow.cli", "worker", "--processes", "2", "--threads", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # When cases are started in this (web) process, their events go to Redis
        api = Api(redis_app, "window1")
        nos = [api.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}).get_json()[
            "case_no"] for _ in range(3)]
        assert all(nos)
        # Then the worker processes handle every domain event exactly once per subscriber
        deadline = time.time() + 60
        while True:
            with db.read() as s:
                pending = s.scalar(select(func.count()).select_from(CaseEvent).where(
                    CaseEvent.domain.is_(True), CaseEvent.dispatched_at.is_(None),
                    CaseEvent.kind.in_(("case_started", "task_created"))))
                deliveries = s.scalar(select(func.count()).select_from(EventDelivery))
            if pending == 0 and deliveries >= 6:
                break
            assert worker.poll() is None, worker.stdout.read()
            assert time.time() < deadline, f"{pending} events never handled"
            time.sleep(0.5)
        with db.read() as s:
            pairs = s.execute(select(EventDelivery.event_id, EventDelivery.handler)).all()
        assert len(pairs) == len(set(pairs))
    finally:
        worker.terminate()
        try:
            worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
