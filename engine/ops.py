"""What load balancers and operators ask a web process: /healthz, /readyz and /metrics.

- ``/healthz``: the process answers (liveness; no I/O, so a slow database never gets a live
  process restarted).
- ``/readyz``: the database and the broker answer; 503 with what is down otherwise, so a load
  balancer sends no traffic here until both are back.
- ``/metrics``: Prometheus text. Who may read it is the route's access rule (``engine.access.METRICS``):
  with ``ONEWINDOW_METRICS_TOKEN`` set, whoever sends it as a bearer token (the Prometheus scrape
  config holds it); without one, only a request made directly on the loopback interface (no
  ``X-Forwarded-For``: a reverse proxy on the same host does not make the public local). The figures
  carry no personal data, but case volumes are the office's business.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import select, text

from engine import broker, metrics, outbox
from engine.access import METRICS, PUBLIC, guard
from engine.models import SchedulerRun

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@guard(PUBLIC)
def healthz():
    return jsonify({"status": "alive"})


def _check_database() -> str | None:
    try:
        with current_app.extensions["onewindow.db"].engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@bp.get("/readyz")
@guard(PUBLIC)
def readyz():
    problems = {}
    if (db_error := _check_database()) is not None:
        problems["database"] = db_error
    if (broker_error := broker.ping()) is not None:
        problems["broker"] = broker_error
    if problems:
        log.warning("not ready: %s", problems)
        response = jsonify({"status": "unavailable", "down": problems})
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify({"status": "ready"})


@bp.get("/metrics")
@guard(METRICS)
def metrics_endpoint():
    from prometheus_client import generate_latest
    from prometheus_client.core import CollectorRegistry

    own = metrics.current.exposition() if metrics.current is not None else b""
    registry = CollectorRegistry()
    registry.register(_DatabaseCollector(current_app.extensions["onewindow.db"]))
    body = own + generate_latest(registry)
    return Response(body, mimetype="text/plain", headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


class _DatabaseCollector:
    """Figures the database holds, read at scrape time; ``onewindow_database_up`` 0 when it cannot."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("onewindow_database_up", "1 when /metrics could read the database")
        try:
            families = list(self._read())
        except Exception as exc:
            log.warning("metrics: could not read the database (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self):
        from prometheus_client.core import GaugeMetricFamily

        depth = outbox.depth(self.db)
        yield GaugeMetricFamily("onewindow_outbox_events",
                                "Domain events not yet recorded by every subscriber", value=depth.events)
        yield GaugeMetricFamily("onewindow_outbox_oldest_seconds",
                                "Age of the oldest undelivered domain event (0 when none)", value=depth.oldest_seconds)
        last = GaugeMetricFamily("onewindow_scheduler_last_run_timestamp_seconds",
                                 "When the leading scheduler last finished a tick (Unix time)", labels=["name"])
        took = GaugeMetricFamily("onewindow_scheduler_last_run_seconds", "How long that tick took", labels=["name"])
        errors = GaugeMetricFamily("onewindow_scheduler_last_run_errors", "Errors in that tick", labels=["name"])
        hooks = GaugeMetricFamily("onewindow_scheduler_last_hook_seconds",
                                  "How long each periodic job took in that tick (sla.sweep: the SLA sweep)",
                                  labels=["name", "hook"])
        with self.db.read() as s:
            runs = list(s.scalars(select(SchedulerRun)))
        for run in runs:
            last.add_metric([run.name], run.finished_at.timestamp())
            took.add_metric([run.name], run.seconds)
            errors.add_metric([run.name], run.errors)
            for hook, seconds in (run.hook_seconds or {}).items():
                hooks.add_metric([run.name, hook], seconds)
        yield from (last, took, errors, hooks)
        for _name, collector in metrics.collectors():
            yield from collector(self.db)


def _started() -> None:
    g.ops_started = time.perf_counter()


def _observed(response):
    started = g.pop("ops_started", None)
    if started is not None:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe_request(request.method, rule, response.status_code, time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_started)
    app.after_request(_observed)
