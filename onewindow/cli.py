"""The `onewindow` command: serve, worker, db upgrade, plus every package's own commands."""

from __future__ import annotations

import logging
import subprocess
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from onewindow import migrate
from onewindow.app import create_app, freeze_start_up_heap, mask_personal_data_in_logs


def _settings():
    return current_app.config["ONEWINDOW"]


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


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Run the API, the pages, the in-process worker and the minute tick (never seeds anything)."""
    from werkzeug.serving import make_server

    from engine import broker
    from engine.scheduler import Ticker
    from engine.spiff import script_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # per-task state changes drown the log
    mask_personal_data_in_logs()
    app = current_app._get_current_object()
    settings = _settings()
    db = app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    for hook in app.extensions.get("onewindow.startup_hooks", []):  # e.g. load the service catalog
        hook(app)
    worker = None
    if not settings.redis_url:
        worker = broker.start_in_process_worker()
    ticker = Ticker(db, settings.tick_seconds)
    ticker.start()
    script_engine.pool().start()  # the script workers, before the first request needs one
    server = make_server(host, port, app, threaded=True)
    freeze_start_up_heap()
    click.echo(f"onewindow is serving on http://{host}:{port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        ticker.stop()
        if worker is not None:
            broker.stop_in_process_worker()


@main.command("worker")
@click.option("--processes", default=2, type=int)
@click.option("--threads", default=4, type=int)
@with_appcontext
def worker(processes: int, threads: int) -> None:
    """Run Dramatiq worker processes on Redis (ONEWINDOW_REDIS_URL must be set)."""
    if not _settings().redis_url:
        raise click.ClickException("ONEWINDOW_REDIS_URL is not set: `serve` runs an in-process worker")
    cmd = [sys.executable, "-m", "dramatiq", "onewindow.worker", "--processes", str(processes),
           "--threads", str(threads)]
    raise SystemExit(subprocess.call(cmd))


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
