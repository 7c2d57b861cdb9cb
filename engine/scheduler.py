"""The tick: fire due timers, hand out undelivered domain events again, run the features' periodic work.

`onewindow tick --now ISO` calls :func:`tick` once. :class:`Scheduler` calls it every
``ONEWINDOW_TICK_SECONDS`` while it holds the leader lock (``engine/leader.py``): in production it is
the `onewindow scheduler` process (start two: the second waits and takes over when the first dies);
in the embedded default a thread of the one `serve` process. Web processes never tick otherwise.
Each case is its own transaction and its own try: one broken case never stops the rest.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine import cases, clock, metrics, outbox
from engine.db import Database
from engine.identity import SYSTEM
from engine.leader import LeaderLock
from engine.models import SchedulerRun

log = logging.getLogger(__name__)

TickHook = Callable[[Database, datetime], dict]
_hooks: list[tuple[str, TickHook]] = []


def on_tick(name: str, hook: TickHook) -> None:
    if all(n != name for n, _ in _hooks):
        _hooks.append((name, hook))


@dataclass
class TickReport:
    now: datetime
    timers_fired: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    redispatched: int = 0
    hooks: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # each hook's duration


def tick(db: Database, now: datetime) -> TickReport:
    report = TickReport(now)
    with clock.frozen(now):
        with db.read() as s:
            due = cases.due_timer_cases(s)
        for case_id in due:
            try:
                with db.unit_of_work() as uow:
                    fired = cases.fire_timers(uow, case_id, SYSTEM)
                    case_no = uow.session.get(cases.Case, case_id).case_no
                report.timers_fired += [(case_no, f) for f in fired]
            except Exception as exc:  # one broken case must not stop the sweep
                log.exception("firing timers of case %s failed", case_id)
                report.errors.append(f"case {case_id}: {exc}")
        try:
            report.redispatched = outbox.resend_undelivered(db, now)
        except Exception as exc:
            log.exception("handing out undelivered events failed")
            report.errors.append(f"outbox: {exc}")
        for name, hook in _hooks:
            started = time.perf_counter()
            try:
                report.hooks[name] = hook(db, now) or {}
            except Exception as exc:
                log.exception("tick hook %s failed", name)
                report.errors.append(f"{name}: {exc}")
            report.seconds[name] = time.perf_counter() - started
    return report


class Scheduler(threading.Thread):
    """Ticks every ``seconds`` while this process holds the leader lock; otherwise waits and tries again.

    ``run()`` in the foreground is `onewindow scheduler`; ``start()`` runs it as a thread (the embedded
    default's `serve`). Each tick it led is written to ``scheduler_runs`` (what /metrics reports).
    """

    def __init__(self, db: Database, seconds: int, name: str = "scheduler",
                 runner: Callable[[Database, datetime], TickReport] = tick):
        super().__init__(name=f"onewindow-{name}", daemon=True)
        self.db, self.seconds, self.lock_name, self.runner = db, seconds, name, runner
        self.lock = LeaderLock(db.url, name)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                self.run_once()
                self._stop_event.wait(self.seconds)
        finally:
            self.lock.release()

    def run_once(self) -> TickReport | None:
        """One tick if this process leads (None if another does or the lock could not be checked)."""
        try:
            if not self.lock.acquire():
                return None
        except Exception:
            log.exception("leader lock %s: could not try it", self.lock_name)
            return None
        started_at, started = clock.now(), time.perf_counter()
        try:
            report = self.runner(self.db, clock.now())
        except Exception:
            log.exception("tick failed")
            report = None
        seconds = time.perf_counter() - started
        metrics.observe_tick(seconds, report.seconds if report else {})
        try:
            self._record(started_at, seconds, report)
        except Exception:
            log.exception("recording the tick failed")
        return report

    def _record(self, started_at: datetime, seconds: float, report: TickReport | None) -> None:
        with self.db.unit_of_work() as uow:
            row = uow.session.get(SchedulerRun, self.lock_name) or SchedulerRun(name=self.lock_name)
            row.holder, row.started_at, row.finished_at = self.holder, started_at, clock.now()
            row.seconds, row.errors = seconds, len(report.errors) if report else 1
            row.hook_seconds = dict(report.seconds) if report else {}
            uow.session.add(row)

    def stop(self) -> None:
        self._stop_event.set()
