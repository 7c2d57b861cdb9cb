"""The connection a list reads with: one statement, no transaction to end.

A page is one SELECT (two when it reaches the undated tail), and a single statement sees one
snapshot on its own. On PostgreSQL the list therefore runs on a connection of the database's
autocommit pool: no BEGIN, and no ROLLBACK round trip when it goes back to the pool. Elsewhere
(SQLite) it is the engine's read session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.web import database


@contextmanager
def list_reader() -> Iterator[Any]:
    """A Connection (PostgreSQL) or Session (elsewhere): both ``execute(stmt, params)`` and ``scalar``."""
    with database().one_statement() as reader:
        yield reader
