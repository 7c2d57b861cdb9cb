"""The `onewindow` command: serve, worker, db upgrade, plus every package's own commands."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from engine import logs
from onewindow import migrate
from onewindow.app import create_app, freeze_start_up_heap
from onewindow.config import from_env


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """onewindow: one-window government service workflow engine."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration (Alembic heads)."""
    db = current_app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    click.echo("database is up to date")


@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", type=int, default=None,
              help="gunicorn worker processes (ONEWINDOW_WEB_WORKERS; the embedded default: 1)")
@click.option("--threads", type=int, default=None, help="threads per worker process (ONEWINDOW_WEB_THREADS)")
@click.option("--access-log", is_flag=True, help="log every request (method, path, status, time)")
def serve(host: str, port: int, workers: int | None, threads: int | None, access_log: bool) -> None:
    """Serve the API and the pages on gunicorn (embedded default: also the worker thread and the tick);
    never seeds anything."""
    from onewindow import server

    settings = from_env()
    logs.configure(settings.log_format)
    made_metrics_dir = None
    if not settings.metrics_dir:  # the gunicorn workers add up their figures through files
        settings.metrics_dir = made_metrics_dir = server.temporary_metrics_dir()
    try:
        options = server.gunicorn_options(settings, host, port, workers=workers, threads=threads,
                                          access_log=access_log)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(settings)
    db = app.extensions["onewindow.db"]
    if server.embedded(settings):
        migrate.upgrade(db.url, db.engine)  # one process owns the file; production runs `db upgrade`
    for hook in app.extensions.get("onewindow.startup_hooks", []):  # e.g. load the service catalog
        hook(app)
    click.echo(f"onewindow is serving on http://{host}:{port}/ ({options['workers']} process(es) x "
               f"{options['threads']} threads{', embedded worker and tick' if server.embedded(settings) else ''})")
    server.Server(app, options, temporary_metrics_dir=made_metrics_dir).run()


@main.command("scheduler", with_appcontext=False)
@click.option("--once", is_flag=True, help="one tick if this process leads, then exit (cron-style)")
def scheduler_command(once: bool) -> None:
    """Run the tick every ONEWINDOW_TICK_SECONDS while holding the leader lock (start any number: one leads)."""
    import signal

    from engine.scheduler import Scheduler

    settings = from_env()
    logs.configure(settings.log_format)
    app = create_app(settings)
    scheduler = Scheduler(app.extensions["onewindow.db"], settings.tick_seconds)
    if once:
        report = scheduler.run_once()
        scheduler.lock.release()
        click.echo("ticked" if report is not None else "another scheduler leads: nothing done")
        raise SystemExit(1 if report is not None and report.errors else 0)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    freeze_start_up_heap()
    click.echo(f"onewindow scheduler: ticking every {settings.tick_seconds} s while it leads")
    try:
        scheduler.run()
    except KeyboardInterrupt:
        pass


@main.command("worker", with_appcontext=False)
@click.option("--processes", default=2, type=int)
@click.option("--threads", default=4, type=int)
def worker(processes: int, threads: int) -> None:
    """Run Dramatiq worker processes on Redis (ONEWINDOW_REDIS_URL must be set).

    Exits non-zero when a worker process breaks (see engine/watchdog.py): run it under a supervisor
    that restarts it.
    """
    if not from_env().redis_url:
        raise click.ClickException("ONEWINDOW_REDIS_URL is not set: `serve` runs an in-process worker")
    cmd = [sys.executable, "-m", "dramatiq", "onewindow.worker", "--processes", str(processes),
           "--threads", str(threads), "--worker-shutdown-timeout", "30000"]
    # exec, not a child: the supervisor's signals reach Dramatiq's main process, and its exit code
    # (non-zero when a worker process broke) is this command's
    os.execv(sys.executable, cmd)


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the demo office (users with a published password, definitions, catalog, a few cases) into
    the configured database, which must have no users yet."""
    from onewindow import demo

    db = current_app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    try:
        logins = demo.seed(current_app._get_current_object())
    except demo.NotAnEmptyDatabase as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("the demo office is seeded; every demo login's password is published, never use it in production:")
    for username, password, role in logins:
        click.echo(f"  demo login: {username} / {password}  ({role})")


if __name__ == "__main__":  # pragma: no cover
    main()
