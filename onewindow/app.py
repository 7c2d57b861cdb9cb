"""The application factory: configuration in, a wired Flask app out."""

from __future__ import annotations

import gc
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import broker, clock, events, identity, logs, metrics, office
from engine.db import Database
from engine.spiff import prune, script_engine
from engine.spiff.script_pool import Limits
from onewindow.config import Settings, from_env


def mask_personal_data_in_logs() -> None:
    """ID and phone numbers are masked by every root log handler (call again after adding one)."""
    logs.mask_personal_data()


def freeze_start_up_heap() -> None:
    """Take what start-up built (modules, SQLAlchemy's mappers, the app) out of the cyclic collector's
    sight, once it is built and before requests come (``gc.freeze``).

    Start-up leaves some 140,000 tracked objects that live as long as the process. Left in the
    collector's generations, every full collection walks them all again (about 90 ms here), and the
    request that happens to trigger it waits. Frozen, they are never scanned; garbage made later is
    collected as before. For a server or worker process, not for code that builds apps over and over.
    """
    gc.collect()
    gc.freeze()


def script_limits(settings: Settings) -> Limits:
    """The scripts' limits from the settings; raises ValueError naming the variable that is out of range."""
    for name, value, low in (("SCRIPT_TIME_LIMIT_MS", settings.script_time_limit_ms, 10),
                             ("SCRIPT_MEMORY_MB", settings.script_memory_mb, 64),
                             ("SCRIPT_WORKERS", settings.script_workers, 1)):
        if value < low:
            raise ValueError(f"ONEWINDOW_{name} must be at least {low}, not {value}")
    return Limits(settings.script_time_limit_ms / 1000, settings.script_memory_mb, settings.script_workers)


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    settings = settings or from_env(**overrides)
    app = Flask("onewindow", static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        ONEWINDOW=settings,
        CALENDAR_DIR=settings.calendar_dir,
        TIMEZONE=settings.timezone,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * 2,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.ensure_ascii = False
    office.configure(settings.timezone)
    prune.configure_limits(settings.state_max_bytes, settings.state_max_depth)
    script_engine.configure(script_limits(settings))
    identity.actors.ttl = settings.token_cache_seconds
    clock.set_default(clock.parse_instant(settings.fake_now) if settings.fake_now else None)
    mask_personal_data_in_logs()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    app.extensions["onewindow.db"] = db
    app.extensions["onewindow.metrics"] = metrics.setup(settings.metrics_dir)
    broker.configure(settings.redis_url, settings.broker_timeout_ms)
    events.bind_database(db)

    import engine
    import intake
    import sla
    import worklists

    engine.init_app(app)
    sla.init_app(app)
    intake.init_app(app)
    worklists.init_app(app)
    if settings.trusted_proxies < 0:
        raise ValueError("ONEWINDOW_TRUSTED_PROXIES must be 0 or more")
    if settings.trusted_proxies:
        # Behind N proxies the socket's peer is the nearest proxy: take the client's address (which
        # the public pages' rate limit counts by), scheme and host from the last N X-Forwarded-*
        # entries, which those proxies wrote. With 0 the headers are ignored: a client cannot spoof them.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app
