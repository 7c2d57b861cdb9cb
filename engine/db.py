"""Database plumbing: the declarative base, engines, and the unit of work.

Entry points (routes, actors, CLI commands) open a unit of work and commit; services receive the
session and never commit (STYLE habit 4). Callbacks registered with ``after_commit`` run only once
the transaction is durable, which is where domain events are handed to the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Stores UTC instants; always hands back timezone-aware UTC datetimes (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so threads can share a file."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead,
            # so two writers serialise on the case instead of failing on upgrade from a read lock.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        # an unreachable server fails a connect in seconds, not after the kernel's TCP timeout
        kwargs["connect_args"] = {"connect_timeout": 5, **kwargs.get("connect_args", {})}
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    ping_idle_connections(engine)
    return engine


IDLE_PING_SECONDS = 1.0


def ping_idle_connections(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Check a pooled connection that sat idle before lending it; a dead one is replaced.

    After a database outage (a restart, terminated backends) every pooled connection is dead, and
    the first request on each used to answer 500. A ping on every checkout would cost a round trip
    on every request; a connection back in the pool less than ``idle_seconds`` ago was just used, so
    only the others are pinged. One that fails raises DisconnectionError, on which the pool throws it
    away and connects afresh (SQLAlchemy also marks every older pooled connection for replacement).
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_conn, record, proxy):
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


@dataclass
class UnitOfWork:
    """One transaction: a session plus the work to do once it has committed, or rolled back."""

    session: Session
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    _after_rollback: list[Callable[[UnitOfWork], None]] = field(default_factory=list)
    # what services collect during the transaction for their after-commit work (e.g. which cases'
    # events to hand to the broker), keyed by the module that owns the entry
    notes: dict[str, Any] = field(default_factory=dict)

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def after_rollback(self, fn: Callable[[UnitOfWork], None]) -> None:
        """Run ``fn`` in a new unit of work of its own if this one fails and rolls back: what must be
        kept of a refused change (a case flagged because its script hit a limit)."""
        self._after_rollback.append(fn)

    @property
    def is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._engine_kwargs = engine_kwargs
        self._autocommit: Engine | None = None
        self._autocommit_lock = threading.Lock()

    @property
    def autocommit_engine(self) -> Engine:
        """A second, smaller pool whose connections are in autocommit from the start (PostgreSQL).

        For reads that are one statement: a single SELECT sees one snapshot on its own, so it needs no
        BEGIN and no COMMIT or ROLLBACK round trip, and a connection of this pool is set to autocommit
        once, when it connects, not on every checkout and back on every return (as
        ``execution_options(isolation_level=...)`` on the main pool does). Created on first use.
        """
        if self._autocommit is None:
            with self._autocommit_lock:
                if self._autocommit is None:
                    kwargs = dict(self._engine_kwargs)
                    if "poolclass" not in kwargs:
                        kwargs.setdefault("pool_size", 5)
                        kwargs.setdefault("max_overflow", 5)
                        # the connection returned last is taken first: under a light load requests keep
                        # meeting the same, warm server process (and surplus connections can idle out)
                        kwargs.setdefault("pool_use_lifo", True)
                    if self.url.startswith("postgresql"):
                        # the reads here are index range walks whatever the values: plan once per
                        # connection (a generic plan), never per execution
                        connect_args = dict(kwargs.pop("connect_args", {}))
                        connect_args["options"] = (connect_args.get("options", "") +
                                                   " -c plan_cache_mode=force_generic_plan").strip()
                        kwargs["connect_args"] = connect_args
                    # nothing to reset: an autocommit connection never holds a transaction
                    self._autocommit = make_engine(self.url, isolation_level="AUTOCOMMIT",
                                                   pool_reset_on_return=None, **kwargs)
        return self._autocommit

    @contextmanager
    def one_statement(self) -> Iterator[Any]:
        """What a read of one statement runs on: on PostgreSQL a connection of the autocommit pool (no
        transaction to end), elsewhere a read session. Both ``execute(stmt, params)`` and ``scalar``."""
        if self.engine.dialect.name == "postgresql":
            with self.autocommit_engine.connect() as conn:
                yield conn
            return
        with self.read() as session:
            yield session

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        session = self.sessions()
        uow = UnitOfWork(session)
        try:
            with session.begin():
                yield uow
        except Exception:
            session.close()
            for undo in uow._after_rollback:
                self._after_rollback(undo)
            raise
        finally:
            session.close()
        for fn in uow._after_commit:
            fn()

    def _after_rollback(self, fn: Callable[[UnitOfWork], None]) -> None:
        # the refusal being raised matters more than this: log a failure here, never replace it
        try:
            with self.unit_of_work() as again:
                fn(again)
        except Exception:
            log.exception("work after a rolled-back unit of work failed")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only; nothing it holds is written.

        A clean read ends with COMMIT, not ROLLBACK: for a transaction that wrote nothing they are the
        same, but psycopg forgets the connection's prepared statements on a rollback (DEALLOCATE
        ALL), and every state change on that pooled connection would then be parsed and planned
        afresh. The session never flushes on its own, so changes made to its objects (a misuse) stay
        in it and are rolled back.
        """
        session = self.sessions(autoflush=False)
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            if session.new or session.dirty or session.deleted:
                session.rollback()
            else:
                session.commit()
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()


def utcnow_column_default() -> datetime:
    from engine import clock

    return clock.now()
