"""Running a page's statements: plain row tuples, on PostgreSQL straight through the driver.

A list request is dominated by a ~1 ms query, so what runs around it matters. On PostgreSQL the
statements of a request shape are compiled to SQL text once (per statement object, which
``queries._shape`` builds once) and executed on the pooled connection's psycopg cursor: no execution
context, no result metadata, no per-row type processing. psycopg prepares a statement after a few
runs on a connection. ``bench/worklist.py`` times this very text with psycopg as the bare SQL.
Elsewhere (SQLite) the statements run through SQLAlchemy as usual.

An instant comes back as the driver gives it: a datetime through SQLAlchemy, and through psycopg the
text PostgreSQL sends (``2026-03-10 01:02:03.5+00``), unparsed, since the API only wants it as text
again. :func:`instant_iso` spells either as ``datetime.astimezone(UTC).isoformat()`` does, what the API
has always sent; for the usual UTC session that is string slicing, not parsing and formatting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from psycopg.types.string import TextLoader
from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

TIMESTAMPTZ_OID = 1184
_LIST_CURSOR = "onewindow.list_cursor"


def instant_iso(value: datetime | str) -> str:
    """An instant from :func:`fetch` as ISO 8601 text in UTC (``datetime.isoformat`` spelling).

    Raises ValueError for text that is no ISO instant (a DateStyle other than ISO never gets here).
    """
    if value.__class__ is str:
        text: str = value  # type: ignore[assignment]
        # 'YYYY-MM-DD HH:MM:SS[.f]+00': already UTC, only the spelling differs from isoformat()
        if text[-3:] == "+00":
            n = len(text)
            if n == 29 and text[19] == ".":
                return f"{text[:10]}T{text[11:26]}+00:00"
            if n == 22:
                return f"{text[:10]}T{text[11:19]}+00:00"
            if 24 <= n < 29 and text[19] == ".":  # PostgreSQL drops trailing zeros; Python pads to 6
                return f"{text[:10]}T{text[11:-3]}{'00000'[:29 - n]}+00:00"
        value = datetime.fromisoformat(text)  # another session zone: parse, then convert
    return value.astimezone(UTC).isoformat()  # type: ignore[union-attr]


@lru_cache(maxsize=1024)
def _compiled(stmt: Select, dialect: Dialect) -> SQLCompiler | None:
    """The statement compiled for ``dialect``, or None if it needs rendering per execution."""
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None  # expanding IN or literal-rendered values: SQLAlchemy must render each time
    return compiled


def driver_sql(stmt: Select, dialect: Dialect, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The SQL text and driver parameters the driver path sends for ``stmt`` (None: not runnable so)."""
    compiled = _compiled(stmt, dialect)
    if compiled is None:
        return None
    return compiled.string, compiled.construct_params(params)


@dataclass(frozen=True)
class Driver:
    """A pooled psycopg connection in autocommit (``Database.driver_reader``) and the dialect to compile for."""

    connection: PoolProxiedConnection
    dialect: Dialect


def fetch(reader: Session | Connection | Driver, stmts: Sequence[Select], params: dict[str, Any],
          enough: int) -> list[Sequence[Any]]:
    """Run ``stmts`` in order until more than ``enough`` rows are in hand; rows in select order.

    Instants are datetimes or PostgreSQL's text: read them with :func:`instant_iso`.
    """
    if isinstance(reader, Driver):
        compiled = [_compiled(stmt, reader.dialect) for stmt in stmts]
        if None in compiled:
            raise ValueError("a statement that needs rendering per execution cannot run on the driver")
        return _fetch_driver(reader.connection, compiled, params, enough)
    if isinstance(reader, Connection) and reader.dialect.name == "postgresql":
        compiled = [_compiled(stmt, reader.dialect) for stmt in stmts]
        if None not in compiled:
            return _fetch_driver(reader.connection, compiled, params, enough)
    rows: list[Sequence[Any]] = []
    for stmt in stmts:
        rows += reader.execute(stmt, params).all()
        if len(rows) > enough:
            break
    return rows


def _list_cursor(pooled: PoolProxiedConnection) -> Any:
    """The pooled connection's cursor for list reads, made once and kept in the connection's ``info``
    (which SQLAlchemy drops with the connection): a cursor per request cost a new cursor and a copy
    of its loader map each time. It reads ``timestamptz`` as PostgreSQL's text, which is ISO: psycopg
    reads instants under no other DateStyle at all."""
    cursor = pooled.info.get(_LIST_CURSOR)
    if cursor is None or cursor.closed:
        cursor = pooled.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, TextLoader)  # psycopg's C loader: text as is
        pooled.info[_LIST_CURSOR] = cursor
    return cursor


def _fetch_driver(pooled: PoolProxiedConnection, compiled: list[SQLCompiler], params: dict[str, Any],
                  enough: int) -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = []
    cursor = _list_cursor(pooled)
    for c in compiled:
        cursor.execute(c.string, c.construct_params(params))
        rows += cursor.fetchall()
        if len(rows) > enough:
            break
    return rows
