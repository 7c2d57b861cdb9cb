"""Exactly one active sweeper across processes.

With Redis configured: ``SET key token NX PX ttl`` and a compare-and-delete release. Otherwise on
PostgreSQL: a session-level ``pg_try_advisory_lock`` held on its own connection for the sweep. On
SQLite (one machine, writers serialised at BEGIN IMMEDIATE) there is nothing to take. The lock saves
work only: alerts stay unique by their database constraint even if two sweeps overlapped.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from engine.db import Database

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _key(db: Database) -> tuple[str, int]:
    digest = hashlib.sha256(f"onewindow.sla.sweep:{db.url}".encode()).digest()
    return f"onewindow:sla:sweep:{digest.hex()[:16]}", int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def sweeper_lock(db: Database, redis_url: str | None, ttl_ms: int = 55_000) -> Iterator[bool]:
    """Yields True when this process holds the sweep, False when another one does."""
    name, number = _key(db)
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        token = secrets.token_hex(16)
        held = bool(client.set(name, token, nx=True, px=ttl_ms))
        try:
            yield held
        finally:
            if held:
                client.eval(_RELEASE, 1, name, token)
            client.close()
        return
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": number}).scalar())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
                conn.commit()
