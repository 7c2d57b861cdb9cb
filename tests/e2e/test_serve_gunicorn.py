"""`onewindow serve` on gunicorn: the server, the health checks, /metrics, a database outage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import drop_pg_database, fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEWINDOW_")}
    env.update(ONEWINDOW_INSTANCE_DIR=str(tmp_path / "instance"), **extra)
    return env


def _serve(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "onewindow.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 90
    while True:
        try:
            if _get(f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                return proc
        except OSError:
            pass
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline, "serve did not answer in 90 s"
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    return out


def test_serve_runs_on_gunicorn_with_health_checks_metrics_and_its_tick(tmp_path):
    # Given `onewindow serve` on the embedded default, its tick due every second
    port = _free_port()
    proc = _serve(_env(tmp_path, ONEWINDOW_TICK_SECONDS="1"), port)
    try:
        base = f"http://127.0.0.1:{port}"
        status, headers, body = _get(f"{base}/login")
        # Then a production server answers, not Werkzeug's development server
        assert status == 200 and "登录" in body.decode()
        assert "werkzeug" not in headers.get("Server", "").lower()
        assert headers.get("Server", "").startswith("gunicorn")
        assert _get(f"{base}/readyz")[0] == 200
        assert _get(f"{base}/api/tasks")[0] == 401
        # And /metrics answers this host with request latency per route and the outbox
        status, _h, body = _get(f"{base}/metrics")
        assert status == 200
        assert 'onewindow_request_duration_seconds_count{method="GET",route="/login",status="2xx"}' in body.decode()
        assert "onewindow_outbox_events" in body.decode()
        # but not a request that came through a proxy
        assert _get(f"{base}/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 403
        # And the embedded default's one process ticks (its scheduler thread holds the leader lock)
        deadline = time.time() + 30
        while "onewindow_scheduler_last_run_timestamp_seconds{" not in _get(f"{base}/metrics")[2].decode():
            assert time.time() < deadline, "the embedded scheduler never ticked"
            time.sleep(0.3)
    finally:
        out = _stop(proc)
    assert f"serving on http://127.0.0.1:{port}/ (1 process(es)" in out


def _set_connections(admin, name: str, allowed: bool) -> None:
    with admin.connect() as c:
        c.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'))
        if not allowed:
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})


def test_readyz_follows_the_database(tmp_path, pg_url, pg_template):
    # Given serve on a PostgreSQL database of its own
    url = fresh_pg_database(pg_url, pg_template)
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    port = _free_port()
    proc = _serve(_env(tmp_path, ONEWINDOW_DATABASE_URL=url), port)
    try:
        base = f"http://127.0.0.1:{port}"
        status, headers, _b = _get(f"{base}/readyz")
        assert status == 200 and "werkzeug" not in headers.get("Server", "").lower()
        # When the database refuses connections and its sessions are terminated
        _set_connections(admin, name, False)
        # Then the process is alive but not ready
        status, headers, body = _get(f"{base}/readyz")
        assert status == 503, body
        assert "database" in json.loads(body)["down"]
        assert _get(f"{base}/healthz")[0] == 200
        # And a request that needs the database is told to retry (503), not an internal error
        status, _h, body = _get(f"{base}/api/me", {"Authorization": "Bearer x"})
        assert status == 503, body
        # When the database is back
        _set_connections(admin, name, True)
        # Then it is ready again at once, and the pooled connections the outage killed are replaced
        assert _get(f"{base}/readyz")[0] == 200
        assert _get(f"{base}/api/me", {"Authorization": "Bearer x"})[0] == 401
    finally:
        _stop(proc)
        _set_connections(admin, name, True)
        admin.dispose()
        drop_pg_database(url)
