"""`onewindow serve`: the app on gunicorn, a pre-fork WSGI server with a pool of threads per process.

Why gunicorn: the field's default for Flask, and its master process does what the development server
could not: a fixed number of worker processes and threads (300 half-open connections made
Werkzeug's server start 303 threads), a worker stuck past ``timeout`` is killed and replaced,
SIGHUP replaces the workers gracefully (each finishes its requests within ``graceful_timeout``),
SIGTERM stops the same way, and request lines and headers past their limits are refused before the
app sees them (the body's limit is Flask's MAX_CONTENT_LENGTH). granian was the other candidate; it
adds a Rust runtime for a speed the app's own work (a completion is milliseconds of database and
SpiffWorkflow) would not show.

The app is built once in the master before the workers fork (``preload_app``): start-up work
(the migrations check, the catalog) runs once, and the frozen start-up heap is shared copy-on-write.
Connection pools are emptied before the fork, so no two processes share a database connection.

The embedded default (no ``ONEWINDOW_REDIS_URL``) runs one worker process: its broker is an in-process
queue and the tick a thread, and those must live in the one process that serves, or events sent by
one process would never reach another's worker thread. Threads give it concurrency; SQLite takes
one writer at a time anyway. With Redis, the web processes never tick and never handle events:
`onewindow worker` and `onewindow scheduler` do.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from engine import broker, logs, metrics
from engine.scheduler import Scheduler
from engine.spiff import script_engine
from onewindow.app import freeze_start_up_heap, mask_personal_data_in_logs

log = logging.getLogger(__name__)


def embedded(settings) -> bool:
    return not settings.redis_url


def gunicorn_options(settings, host: str, port: int, *, workers: int | None = None, threads: int | None = None,
                     access_log: bool = False) -> dict[str, Any]:
    """gunicorn's settings from ours (see onewindow/config.py for each variable)."""
    if workers is None:
        workers = 1 if embedded(settings) else settings.web_workers
    if embedded(settings) and workers != 1:
        raise ValueError("the embedded default (no ONEWINDOW_REDIS_URL) serves from one process: its in-process "
                         "broker and tick live there; set ONEWINDOW_REDIS_URL to run more")
    if workers < 1 or (threads if threads is not None else settings.web_threads) < 1:
        raise ValueError("workers and threads must be 1 or more")
    level = "info"
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads if threads is not None else settings.web_threads,
        "timeout": settings.web_timeout,
        "graceful_timeout": settings.web_graceful_timeout,
        "keepalive": settings.web_keepalive,
        "max_requests": settings.web_max_requests,
        "max_requests_jitter": settings.web_max_requests // 10,
        "limit_request_line": settings.web_max_request_line,
        "limit_request_fields": settings.web_max_headers,
        "limit_request_field_size": settings.web_max_header_bytes,
        "preload_app": True,
        "proc_name": "onewindow",
        # the app decides whom to believe about scheme and client (ONEWINDOW_TRUSTED_PROXIES, ProxyFix)
        "secure_scheme_headers": {},
        "control_socket_disable": True,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": level,
        "logconfig_dict": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"onewindow": {"()": "engine.logs.JsonFormatter"} if settings.log_format == "json"
                           else {"format": logs.TEXT_FORMAT}},
            "filters": {"personal_data": {"()": "engine.privacy.PersonalDataFilter"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "onewindow",
                                    "filters": ["personal_data"], "stream": "ext://sys.stderr"}},
            "root": {"level": "INFO", "handlers": ["stderr"]},
            "loggers": {
                "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
                "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
                "spiff": {"level": "WARNING"},
            },
        },
    }


class Server(BaseApplication):
    """gunicorn running an app built before the fork, plus the embedded default's threads."""

    def __init__(self, app: Flask, options: dict[str, Any], *, temporary_metrics_dir: str | None = None):
        self.application, self.options = app, options
        self.settings = app.config["ONEWINDOW"]
        self.temporary_metrics_dir = temporary_metrics_dir
        self._threads: list[Scheduler] = []
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_fork", self._post_fork)
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("worker_exit", self._worker_exit)
        self.cfg.set("child_exit", self._child_exit)
        self.cfg.set("on_exit", self._on_exit)

    def load(self) -> Flask:
        return self.application

    def run(self) -> None:
        db = self.application.extensions["onewindow.db"]
        db.dispose()  # nothing the master opened may be shared by the workers it forks
        freeze_start_up_heap()
        super().run()

    # gunicorn's hooks (called with the arbiter or the worker as their first argument)

    def _post_fork(self, server, worker) -> None:
        db = self.application.extensions["onewindow.db"]
        db.engine.dispose(close=False)

    def _post_worker_init(self, worker) -> None:
        mask_personal_data_in_logs()
        script_engine.pool().start()  # each worker's own script processes, before its first request
        if embedded(self.settings):
            broker.start_in_process_worker()
            scheduler = Scheduler(self.application.extensions["onewindow.db"], self.settings.tick_seconds)
            scheduler.start()
            self._threads.append(scheduler)

    def _worker_exit(self, server, worker) -> None:
        script_engine.pool().close()
        for thread in self._threads:
            thread.stop()
        if embedded(self.settings):
            broker.stop_in_process_worker()

    def _child_exit(self, server, worker) -> None:
        metrics.process_exited(worker.pid)

    def _on_exit(self, server) -> None:
        if self.temporary_metrics_dir:
            shutil.rmtree(self.temporary_metrics_dir, ignore_errors=True)


def temporary_metrics_dir() -> str:
    return tempfile.mkdtemp(prefix="onewindow-metrics-")
