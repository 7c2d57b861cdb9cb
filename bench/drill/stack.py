"""The office's machine room for one drill: its own PostgreSQL database, a private redis-server, and
`onewindow serve`, `onewindow worker` and two `onewindow scheduler` processes, each under a supervisor
that starts it again when it exits (as systemd's ``Restart=always`` would).

Never the shared Redis: the drill restarts and freezes its own, on a free port, without persistence
(so a restart loses every queued message, the case the outbox exists for).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "drill-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")
        time.sleep(0.1)


class PrivateRedis:
    """A redis-server of the drill's own: started, stopped (and restarted empty), frozen, thawed."""

    def __init__(self, directory: Path):
        self.port, self.directory = free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            wait_until(client.ping, 10, "redis-server")
        finally:
            client.close()

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class ScratchDatabase:
    """A database of the drill's own on the PostgreSQL server, dropped at the end."""

    def __init__(self, admin_url: str):
        import sqlalchemy as sa

        self.name = f"ow_drill_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        self.url = admin_url.rsplit("/", 1)[0] + "/" + self.name

    def terminate_connections(self) -> int:
        """pg_terminate_backend on every connection to this database but the caller's: a fault."""
        import sqlalchemy as sa

        with self.admin.connect() as c:
            return len(c.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"),
                {"n": self.name}).all())

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


@dataclass
class Supervised:
    """One command, started again whenever it exits, until :meth:`stop`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path = ROOT
    restarts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._out = self.log.open("ab")
        self.proc = self._spawn()
        self._thread = threading.Thread(target=self._watch, daemon=True, name=f"supervise-{self.name}")
        self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=self._out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            if self.proc.poll() is not None and not self._stop.is_set():
                self.exit_codes.append(self.proc.returncode)
                self.restarts += 1
                self.proc = self._spawn()

    def children(self) -> list[int]:
        """Process ids of the command's children (gunicorn's or Dramatiq's worker processes)."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self, timeout: float = 40) -> None:
        self._stop.set()
        self._thread.join()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()


@dataclass
class Shape:
    """How many of each process: gunicorn workers x threads, Dramatiq processes x threads."""

    web_workers: int = 2
    web_threads: int = 8
    worker_processes: int = 1
    worker_threads: int = 4
    tick_seconds: int = 5


class Stack:
    """The processes of one drill on a fresh database and a private Redis."""

    def __init__(self, admin_url: str, shape: Shape, workdir: Path | None = None, code: Path | None = None):
        """``code``: another checkout to run the onewindow processes from (to compare two versions
        under the same drill); by default this one."""
        self.shape = shape
        self.code = Path(code or ROOT).resolve()
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="ow-drill-")
        self.dir = Path(workdir or self._tmp.name)
        self.db = ScratchDatabase(admin_url)
        self.redis = PrivateRedis(self.dir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, Supervised] = {}
        (self.dir / "metrics").mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ONEWINDOW_")}
        self.env.update(
            ONEWINDOW_DATABASE_URL=self.db.url, ONEWINDOW_REDIS_URL=self.redis.url, ONEWINDOW_SECRET_KEY=SECRET,
            ONEWINDOW_INSTANCE_DIR=str(self.dir / "instance"), ONEWINDOW_TRUSTED_PROXIES="1",
            ONEWINDOW_TICK_SECONDS=str(shape.tick_seconds), ONEWINDOW_METRICS_DIR=str(self.dir / "metrics"),
            ONEWINDOW_WEB_WORKERS=str(shape.web_workers), ONEWINDOW_WEB_THREADS=str(shape.web_threads),
            PYTHONUNBUFFERED="1", PYTHONPATH=str(self.code))

    def onewindow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "onewindow.cli", *args]

    def run(self, *args: str) -> str:
        """A one-shot `onewindow` command with the drill's settings; its output."""
        done = subprocess.run(self.onewindow(*args), cwd=self.code, env=self.env, capture_output=True, text=True,
                              timeout=600)
        if done.returncode:
            raise RuntimeError(f"onewindow {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start(self) -> None:
        self.redis.start()
        self.run("db", "upgrade")
        s = self.shape
        self._supervise("web", "serve", "--port", str(self.port), "--workers", str(s.web_workers),
                        "--threads", str(s.web_threads))
        self._supervise("worker", "worker", "--processes", str(s.worker_processes),
                        "--threads", str(s.worker_threads))
        self._supervise("scheduler-a", "scheduler")
        self._supervise("scheduler-b", "scheduler")
        import urllib.request

        wait_until(lambda: urllib.request.urlopen(self.base + "/readyz", timeout=2).status == 200, 60,
                   "onewindow serve")

    def _supervise(self, name: str, *args: str) -> None:
        self.processes[name] = Supervised(name, self.onewindow(*args), self.env, self.dir / f"{name}.log", self.code)

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()
        self.redis.stop()

    def close(self, drop: bool = True) -> None:
        if drop:
            self.db.drop()
        if self._tmp is not None:
            self._tmp.cleanup()
