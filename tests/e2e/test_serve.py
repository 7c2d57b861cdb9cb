"""The real commands: `onewindow serve` seeds nothing; the demo office is `onewindow demo`, run first
by the README's `./scripts/demo`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from engine.passwords import DEMO_PASSWORD
from onewindow.demo import USERS

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "ONEWINDOW_INSTANCE_DIR": str(tmp_path / "instance")}
    env.pop("ONEWINDOW_DATABASE_URL", None)
    env.pop("ONEWINDOW_REDIS_URL", None)
    return env


@contextmanager
def serving(tmp_path: Path):
    """`onewindow serve` on a free port; yields (base URL, a function returning its output so far)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "onewindow.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as r:
                    assert r.status == 200
                    assert "登录" in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.time() < deadline, "serve did not answer in 90 s"
                time.sleep(0.5)
        yield base, output
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        output.append(out)


def _sign_in(base: str, username: str, password: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{base}/api/auth/token", method="POST",
                                 data=json.dumps({"username": username, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_serve_on_a_fresh_database_has_no_account_with_the_demo_password(tmp_path):
    # Given a fresh database, served by the documented production command
    with serving(tmp_path) as (base, output):
        # When every demo login is tried with the published password
        answers = {username: _sign_in(base, username, DEMO_PASSWORD)[0] for username, *_ in USERS}
    # Then none signs in, and nothing was seeded or printed as a login
    assert set(answers.values()) == {401}, answers
    assert "demo login" not in output[0]
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'instance' / 'onewindow.db'}")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM users")).scalar() == 0
        assert c.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 0
    engine.dispose()


def test_the_demo_command_then_serve_is_the_demo_office(tmp_path):
    # Given the demo office seeded by its own command (what ./scripts/demo runs first)
    seeded = subprocess.run([sys.executable, "-m", "onewindow.cli", "demo"], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    assert f"demo login: window1 / {DEMO_PASSWORD}" in seeded.stdout
    # When it is served
    with serving(tmp_path) as (base, output):
        status, body = _sign_in(base, "window1", DEMO_PASSWORD)
        assert status == 200, body
        req = urllib.request.Request(f"{base}/api/tasks?view=queue",
                                     headers={"Authorization": f"Bearer {body['token']}"})
        items = json.load(urllib.request.urlopen(req, timeout=10))["items"]
    # Then the demo logins work and cases are in flight at the front desk
    assert items, "the demo office has cases in flight at the front desk"
    assert "serving on http://127.0.0.1:" in output[0]
    # And a second `onewindow demo` on that database is refused, saying why, and changes nothing
    again = subprocess.run([sys.executable, "-m", "onewindow.cli", "demo"], cwd=ROOT, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode != 0
    assert f"already has {len(USERS)} user(s)" in again.stderr and "onewindow serve" in again.stderr
