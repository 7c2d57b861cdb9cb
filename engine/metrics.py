"""What operators watch, measured where it happens: Prometheus instruments (prometheus-client).

Measured in the process that does the work: request latency per route (web), state changes (where
they commit), tick and tick-hook durations, the SLA sweep among them (the scheduler). Figures that
only the database knows whatever process or machine did the work (outbox depth and oldest
undelivered event, the scheduler's last run, alerts raised) are read at scrape time by the
collectors ``engine/ops.py`` and the features add with :func:`add_collector`.

Under gunicorn every web worker is a process: with ``ONEWINDOW_METRICS_DIR`` set, prometheus-client's
multiprocess mode writes each process's figures to files there and /metrics adds them up. The
scheduler and workers on the same machine may write to the same directory, and /metrics then shows
their figures too. prometheus-client picks its mode when it is first imported, so it is imported
here when the composition root sets the instruments up, after the directory is known.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The instruments of one process; ``directory``: the multiprocess directory, if any."""

    def __init__(self, directory: str | None = None):
        if directory:
            os.makedirs(directory, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        import prometheus_client as pc
        from prometheus_client import values

        self.directory = directory
        if directory and values.ValueClass is values.MutexValue:
            raise RuntimeError("prometheus_client was loaded before ONEWINDOW_METRICS_DIR was applied")
        self.registry = pc.CollectorRegistry()
        # in multiprocess mode the figures go to files and are read back from there, not from a registry
        registry = None if directory else self.registry
        self.requests = pc.Histogram(
            "onewindow_request_duration_seconds", "Time to answer a request, per route and status class",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=registry)
        self.state_changes = pc.Counter(
            "onewindow_state_changes_total", "Committed case state changes, per domain event kind",
            ["kind"], registry=registry)
        self.ticks = pc.Histogram("onewindow_tick_duration_seconds", "Time one scheduler tick took",
                                  buckets=TICK_BUCKETS, registry=registry)
        self.hooks = pc.Histogram("onewindow_tick_hook_duration_seconds",
                                  "Time each periodic job of a tick took (sla.sweep is the SLA sweep)",
                                  ["hook"], buckets=TICK_BUCKETS, registry=registry)

    def exposition(self) -> bytes:
        """This process's figures (or, in multiprocess mode, every process's) as Prometheus text."""
        import prometheus_client as pc
        from prometheus_client import multiprocess

        if not self.directory:
            return pc.generate_latest(self.registry)
        registry = pc.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.directory)
        return pc.generate_latest(registry)


current: Metrics | None = None
Collector = Callable[[Any], Iterable[Any]]  # (database) -> prometheus metric families
_collectors: list[tuple[str, Collector]] = []


def setup(directory: str | None = None) -> Metrics:
    """Create this process's instruments (the composition root; again for a new directory)."""
    global current
    if current is None or current.directory != directory:
        current = Metrics(directory)
    return current


def add_collector(name: str, collector: Collector) -> None:
    """A feature's figures read from the database at scrape time (e.g. alerts raised, by level)."""
    if all(n != name for n, _ in _collectors):
        _collectors.append((name, collector))


def collectors() -> list[tuple[str, Collector]]:
    return list(_collectors)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if current is not None:
        current.requests.labels(method, route, f"{status // 100}xx").observe(seconds)


def count_state_changes(kinds: Iterable[str]) -> None:
    if current is not None:
        for kind in kinds:
            current.state_changes.labels(kind).inc()


def observe_tick(seconds: float, hooks: dict[str, float]) -> None:
    if current is not None:
        current.ticks.observe(seconds)
        for name, took in hooks.items():
            current.hooks.labels(name).observe(took)


def process_exited(pid: int) -> None:
    """A gunicorn worker ended: forget its live gauges (multiprocess mode's clean-up)."""
    if current is not None and current.directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, current.directory)
