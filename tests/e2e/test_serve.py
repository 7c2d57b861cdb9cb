"""The README's first command: `onewindow serve` starts the demo office on the embedded default."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_seeds_the_demo_office_and_answers(tmp_path):
    port = _free_port()
    env = {**os.environ, "ONEWINDOW_INSTANCE_DIR": str(tmp_path / "instance")}
    env.pop("ONEWINDOW_DATABASE_URL", None)
    env.pop("ONEWINDOW_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "onewindow.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        req = urllib.request.Request(f"{base}/api/auth/token", method="POST",
                                     data=json.dumps({"username": "window1", "password": "onewindow-demo"}).encode(),
                                     headers={"Content-Type": "application/json"})
        token = json.load(urllib.request.urlopen(req, timeout=10))["token"]
        req = urllib.request.Request(f"{base}/api/tasks?view=queue", headers={"Authorization": f"Bearer {token}"})
        items = json.load(urllib.request.urlopen(req, timeout=10))["items"]
        assert items, "the demo office has cases in flight at the front desk"
        assert (tmp_path / "instance" / "onewindow.db").exists()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"serving on http://127.0.0.1:{port}/" in out
    assert "demo login: window1 / onewindow-demo" in out
