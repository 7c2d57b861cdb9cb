"""Values to and from the DB-API drivers, per dialect and column kind, for ``engine.store``.

Written to match what SQLAlchemy's own types send and read (UTC instants, JSON, dates, booleans), so
a row written by the store reads back through the ORM exactly as one the ORM wrote, and the other
way round.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date

from engine.db import UTCDateTime


def kind_of(column) -> str:
    """instant | json | date | bool | plain"""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "instant"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "bool"
    return "plain"


def _sqlite_instant_in(value: datetime | None) -> str | None:
    # what SQLAlchemy's SQLite DATETIME writes, so ORM and store rows read back alike
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC instant is required")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_instant_out(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _pg_instant_in(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC instant is required")
    return value


def _pg_instant_out(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _pg_json_in(value: Any) -> Any:
    from psycopg.types.json import Json

    return None if value is None else Json(value)


def _date_out(value: str | date | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _identity(value: Any) -> Any:
    return value


TO_DRIVER = {
    "sqlite": {"instant": _sqlite_instant_in, "json": json.dumps, "bool": _identity, "plain": _identity,
               "date": lambda v: None if v is None else v.isoformat()},
    "postgresql": {"instant": _pg_instant_in, "json": _pg_json_in, "bool": _identity, "plain": _identity,
                   "date": _identity},
}
FROM_DRIVER = {
    "sqlite": {"instant": _sqlite_instant_out, "json": lambda v: None if v is None else json.loads(v),
               "bool": lambda v: None if v is None else bool(v), "date": _date_out, "plain": _identity},
    "postgresql": {"instant": _pg_instant_out, "json": _identity, "bool": _identity, "date": _identity,
                   "plain": _identity},
}
