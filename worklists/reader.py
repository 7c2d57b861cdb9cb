"""The connection a list reads with: one statement, no transaction to end.

A page is one SELECT (two when it reaches the undated tail), and a single statement sees one
snapshot on its own. On PostgreSQL the list therefore runs on a connection of the database's
autocommit pool: no BEGIN, and no ROLLBACK round trip when it goes back to the pool. A page goes
straight to the psycopg connection (:func:`page_reader`); the badge counts, whose statements
SQLAlchemy renders per execution, through a SQLAlchemy connection of that pool (:func:`list_reader`).
Elsewhere (SQLite) both are the engine's read session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.web import database, reading
from worklists.rows import Driver


@contextmanager
def list_reader() -> Iterator[Any]:
    """A Connection (PostgreSQL) or Session (elsewhere): both ``execute(stmt, params)`` and ``scalar``."""
    with database().one_statement() as reader:
        yield reader


@contextmanager
def page_reader() -> Iterator[Any]:
    """What a list page reads with: a :class:`~worklists.rows.Driver` (PostgreSQL) or Session (elsewhere)."""
    db = database()
    if db.engine.dialect.name != "postgresql":
        with reading() as session:
            yield session
        return
    with db.driver_reader() as conn:
        yield Driver(conn, db.autocommit_engine.dialect)
