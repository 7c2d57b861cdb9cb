"""The tick: fire due timers, re-send stranded domain events, run the features' periodic work.

`onewindow tick --now ISO` calls :func:`tick` once; `serve` calls it from a thread every minute.
Each case is its own transaction and its own try: one broken case never stops the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine import cases, clock, events
from engine.db import Database
from engine.identity import SYSTEM

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
        with db.unit_of_work() as uow:
            stranded = events.redispatch_pending(uow.session)
        events.send_all(stranded)
        report.redispatched = len(stranded)
        for name, hook in _hooks:
            try:
                report.hooks[name] = hook(db, now) or {}
            except Exception as exc:
                log.exception("tick hook %s failed", name)
                report.errors.append(f"{name}: {exc}")
    return report


class Ticker(threading.Thread):
    """Calls tick every ``seconds`` with the system clock (the embedded default's scheduler)."""

    def __init__(self, db: Database, seconds: int, runner: Callable[[Database, datetime], object] = tick):
        super().__init__(name="onewindow-ticker", daemon=True)
        self.db, self.seconds, self.runner = db, seconds, runner
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.seconds):
            try:
                self.runner(self.db, clock.now())
            except Exception:
                log.exception("tick failed")

    def stop(self) -> None:
        self._stop_event.set()
