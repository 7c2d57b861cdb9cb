"""A pool of script worker processes, so no script can stall the web process that runs the case.

A request that runs a script checks a worker out, sends it (script, data), and waits for
(result, data) with its GIL released; meanwhile the process serves other requests. Each job has a
wall-clock allowance (the time limit plus a grace): past it the worker is killed. A worker that died
(killed for its CPU time or by the watchdog, out of memory, crashed) is replaced by a new one at the
next checkout, so the pool keeps its size. Workers start when first needed, or all at once with
:meth:`ScriptPool.start` (``onewindow serve`` and ``worker`` do, so no request waits for one).

A worker is ``python -I`` with an empty environment (engine.spiff.script_worker), so what a script
might reach if it ever escaped the sandbox holds no settings, database URL or secret.
"""

from __future__ import annotations

import atexit
import builtins
import os
import select
import signal
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

from engine.spiff.script_errors import ScriptError, ScriptRefused, ScriptTimeout, ScriptTooLarge
from engine.spiff.script_wire import HEADER, MAX_MESSAGE_BYTES, PLAIN_ERRORS, WireError, dumps, reply_of

_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from engine.spiff.script_worker import main; main()"
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")  # locale and zone: strptime reads them
GRACE_SECONDS = 1.0  # past the time limit, before the watchdog kills: the in-code deadline speaks first


@dataclass(frozen=True)
class Limits:
    """What each script may use: wall time (the in-code deadline), memory, and how many run at once."""

    time_seconds: float = 1.0
    memory_mb: int = 512
    workers: int = 2


class _Died(Exception):
    """The worker ended or was killed before it answered; ``error`` is what the caller is told."""

    def __init__(self, error: ScriptError):
        super().__init__(str(error))
        self.error = error


class _Worker:
    def __init__(self, memory_mb: int):
        env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, str(memory_mb)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd="/", close_fds=True)
        self.owner = os.getpid()
        self.memory_mb = memory_mb

    def ask(self, payload: bytes, timeout_seconds: float) -> bytes:
        """Send one job and read its reply; raises _Died when the worker ends or overruns."""
        wall = timeout_seconds + GRACE_SECONDS
        try:
            self.proc.stdin.write(HEADER.pack(len(payload)) + payload)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
            deadline = monotonic() + wall
            (size,) = HEADER.unpack(self._read(HEADER.size, deadline))
            if size > MAX_MESSAGE_BYTES:
                self.kill()
                raise _Died(ScriptTooLarge(f"the script's result is over {MAX_MESSAGE_BYTES:,} bytes"))
            return self._read(size, deadline)
        except TimeoutError:
            self.kill()
            raise _Died(ScriptTimeout(f"script ran past its time limit of {timeout_seconds:g} s "
                                      f"and was killed after {wall:g} s")) from None
        except (BrokenPipeError, EOFError):
            raise _Died(self._why_ended(timeout_seconds)) from None

    def _read(self, size: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        readable = select.poll()  # poll, not select: a busy server's descriptors pass 1024
        readable.register(fd, select.POLLIN)
        chunks, missing = [], size
        while missing:
            left = deadline - monotonic()
            if left <= 0 or not readable.poll(left * 1000):
                raise TimeoutError
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _why_ended(self, timeout_seconds: float) -> ScriptError:
        code = self.wait()
        if code == -signal.SIGXCPU:
            return ScriptTimeout(f"script used more than its CPU time limit ({timeout_seconds:g} s) and was stopped")
        if code == -signal.SIGKILL:  # not ours (ours raise TimeoutError): the kernel's out-of-memory killer
            return ScriptTooLarge("script worker was killed, most likely past its memory limit")
        return ScriptError(f"script worker ended unexpectedly (exit status {code})")

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
        self._close_pipes()

    def close(self) -> None:
        """Ask the worker to end (end of its stdin), and make sure it did."""
        self._close_pipes()
        self.wait()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass


_REBUILT: dict[str, type[ScriptError]] = {
    "ScriptError": ScriptError, "ScriptTimeout": ScriptTimeout, "ScriptTooLarge": ScriptTooLarge,
}


def _rebuilt(name: str, args: tuple, lineno: int) -> Exception:
    """The exception a worker reported, rebuilt here: ours, or a builtin one named in PLAIN_ERRORS."""
    if name == "ScriptRefused":
        return ScriptRefused(list(args[0]), lineno)
    if name in _REBUILT:
        return _REBUILT[name](*args, lineno=lineno)
    try:
        exc = getattr(builtins, name)(*args) if name in PLAIN_ERRORS else ScriptError(f"{name}: {args}")
    except Exception:  # arguments the class does not take (UnicodeError's five)
        exc = ScriptError(f"{name}: {args}")
    exc.lineno = lineno  # type: ignore[attr-defined]
    return exc


class ScriptPool:
    """Worker processes for scripts; ``run`` is safe from any number of threads."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._idle: list[_Worker] = []
        self._started = 0
        self._retired = False
        self._cond = threading.Condition()
        self._owner = os.getpid()

    def run(self, mode: str, source: str, context: dict, external: dict, timeout_seconds: float,
            frozen_now: Any = None) -> Any:
        """The value of an expression (``mode="eval"``) or the data after a script (``"exec"``).

        Raises what the script raised (rebuilt), ScriptTimeout / ScriptTooLarge for a limit.
        """
        try:
            payload = dumps((mode, source, context, external, timeout_seconds, frozen_now))
        except (TypeError, AttributeError, ValueError) as exc:
            raise ScriptError(f"the task data cannot be handed to a script: {exc}") from None
        if len(payload) > MAX_MESSAGE_BYTES:
            raise ScriptTooLarge(f"the task data is over {MAX_MESSAGE_BYTES:,} bytes")
        worker = self._checkout()
        keep = False
        try:
            reply = reply_of(worker.ask(payload, timeout_seconds))
            error = None if reply[0] == "ok" else _rebuilt(reply[1], reply[2], reply[3])
            keep = error is None or not reply[4]
        except _Died as died:
            raise died.error from None
        except (WireError, IndexError, TypeError) as exc:
            raise ScriptError(f"unreadable answer from a script worker: {exc}") from None
        finally:
            self._checkin(worker, keep)
        if error is not None:
            raise error
        return reply[1]

    def start(self) -> None:
        """Start every worker now (a server or worker process at start-up)."""
        workers = [self._checkout() for _ in range(self.limits.workers)]
        for worker in workers:
            self._checkin(worker, True)

    def close(self) -> None:
        """End the idle workers; busy ones end when they are checked in."""
        with self._cond:
            self._retired = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.close()

    def _checkout(self) -> _Worker:
        with self._cond:
            if self._owner != os.getpid():  # a forked child: the workers are the parent's
                self._idle, self._started, self._owner = [], 0, os.getpid()
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.proc.poll() is None:
                        return worker
                    self._started -= 1  # died while idle (killed from outside): replaced below
                    worker.kill()
                if self._started < self.limits.workers:
                    break
                self._cond.wait()
            self._started += 1
        try:
            return _Worker(self.limits.memory_mb)
        except OSError as exc:
            with self._cond:
                self._started -= 1
                self._cond.notify()
            raise ScriptError(f"no script worker could be started: {exc}") from exc

    def _checkin(self, worker: _Worker, keep: bool) -> None:
        with self._cond:
            mine = worker.owner == os.getpid() == self._owner
            if keep and mine and not self._retired and worker.proc.poll() is None:
                self._idle.append(worker)
                self._cond.notify()
                return
            if mine:
                self._started -= 1
            self._cond.notify()
        if mine:
            worker.kill()


_pools: weakref.WeakSet[ScriptPool] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for pool in list(_pools):
        pool.close()


def new_pool(limits: Limits) -> ScriptPool:
    pool = ScriptPool(limits)
    _pools.add(pool)
    return pool
