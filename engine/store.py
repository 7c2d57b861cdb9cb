"""The case store's hot path: the few statements one state change needs, on the unit of work's own
DB-API connection.

Why not the ORM here: completing a task is lock, read, run, write, commit. Through the ORM's query
and flush machinery the bookkeeping around those six statements cost several times SpiffWorkflow's
own step (``bench/engine.py``: 0.09 of the raw in-memory rate on PostgreSQL). The statements below
are written once per dialect from the models' tables and sent straight to the driver, inside the
same transaction as the session.

The session stays true: rows read here come back as the ORM objects a query would give
(:func:`adopt`, which refreshes an object the session already holds, like ``populate_existing``),
and every value written here is set on those objects as already committed, so a later flush writes
nothing twice and the optimistic version goes on from the new value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.db import UnitOfWork
from engine.driver_values import FROM_DRIVER, TO_DRIVER, kind_of
from engine.models import Case, CaseEvent, Task


class _Table:
    """One table's columns and converters for one dialect, and its statements, built once."""

    def __init__(self, table: Table, dialect: str):
        self.name, self.dialect = table.name, dialect
        self.columns = [c.name for c in table.columns]
        self.kinds = {c.name: kind_of(c) for c in table.columns}
        self.into = {n: TO_DRIVER[dialect][k] for n, k in self.kinds.items()}
        self.outof = [(n, FROM_DRIVER[dialect][self.kinds[n]]) for n in self.columns]
        self.select_list = ", ".join(f'"{c}"' for c in self.columns)
        self._updates: dict[tuple[str, ...], str] = {}
        self._inserts: dict[tuple[tuple[str, ...], int, bool], str] = {}

    def sql(self, text: str) -> str:
        return re.sub(r":(\w+)", r"%(\1)s", text) if self.dialect == "postgresql" else text

    def row(self, values: tuple) -> dict[str, Any]:
        return {name: out(v) for (name, out), v in zip(self.outof, values, strict=True)}

    def params(self, values: dict[str, Any], suffix: str = "") -> dict[str, Any]:
        return {f"{k}{suffix}": self.into[k](v) for k, v in values.items()}

    def update_sql(self, names: tuple[str, ...]) -> str:
        text = self._updates.get(names)
        if text is None:
            sets = ", ".join(f'"{n}" = :{n}' for n in names)
            text = self.sql(f'UPDATE {self.name} SET {sets}, "version" = "version" + 1 '
                            "WHERE id = :w_id AND \"version\" = :w_version")
            self._updates[names] = text
        return text

    def insert_sql(self, names: tuple[str, ...], rows: int, returning: bool) -> str:
        """``rows`` rows of ``names`` in one statement; parameters are named ``<column>_<row>``."""
        key = (names, rows, returning)
        text = self._inserts.get(key)
        if text is None:
            cols = ", ".join(f'"{n}"' for n in names)
            groups = ", ".join("(" + ", ".join(f":{n}_{i}" for n in names) + ")" for i in range(rows))
            text = self.sql(f"INSERT INTO {self.name} ({cols}) VALUES {groups}"
                            + (" RETURNING id, kind" if returning else ""))
            self._inserts[key] = text
        return text


class _Statements:
    def __init__(self, dialect: str):
        self.dialect = dialect
        self.cases = _Table(Case.__table__, dialect)
        self.tasks = _Table(Task.__table__, dialect)
        self.events = _Table(CaseEvent.__table__, dialect)
        lock = " FOR UPDATE" if dialect == "postgresql" else ""
        c, t = self.cases, self.tasks
        self.case_by_id = c.sql(f"SELECT {c.select_list} FROM cases WHERE id = :case_id{lock}")
        self.case_of_task = c.sql(f"SELECT {c.select_list} FROM cases "
                                  f"WHERE id = (SELECT case_id FROM tasks WHERE id = :task_id){lock}")
        self.open_tasks = t.sql(f"SELECT {t.select_list} FROM tasks WHERE case_id = :case_id "
                                "AND state IN ('open', 'claimed')")
        self.tasks_of_task = t.sql(f"SELECT {t.select_list} FROM tasks "
                                   "WHERE case_id = (SELECT case_id FROM tasks WHERE id = :task_id) "
                                   "AND (id = :task_id OR state IN ('open', 'claimed'))")


_STATEMENTS: dict[str, _Statements] = {}


def _run(cur, st: _Statements, sql: str, params: dict[str, Any]) -> None:
    """Execute; on PostgreSQL as a prepared statement from its first use on a connection (parsed
    and planned once per connection, not per call)."""
    if st.dialect == "postgresql":
        cur.execute(sql, params, prepare=True)
    else:
        cur.execute(sql, params)


@contextmanager
def _together(conn, st: _Statements) -> Iterator[None]:
    """On PostgreSQL the statements inside travel as one batch (psycopg's pipeline mode): one round
    trip instead of one each, which on a small virtual machine costs more than the statements.
    The server still runs them in order. SQLite runs in process: nothing to save."""
    if st.dialect == "postgresql":
        with conn.pipeline():
            yield
    else:
        yield


def _driver(uow: UnitOfWork):
    """The driver connection of the unit of work (its transaction begins here if not yet), once what
    the session holds is written, so reads here see it and history ids keep their order."""
    session = uow.session
    if session.new or session.deleted or session.dirty:
        session.flush()
    connection = session.connection()
    name = connection.dialect.name
    statements = _STATEMENTS.get(name)
    if statements is None:
        statements = _STATEMENTS[name] = _Statements(name)
    return connection.connection.driver_connection, statements


# -- reading: the same ORM objects a query would give ----------------------------------------------

def adopt(session: Session, cls: type, row: dict[str, Any]) -> Any:
    """The persistent ORM object for ``row``: the session's own, refreshed, or a new one attached."""
    mapper = inspect(cls)
    held = session.identity_map.get(mapper.identity_key_from_primary_key((row["id"],)))
    if held is not None:
        for key, value in row.items():
            set_committed_value(held, key, value)
        return held
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(row)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _tasks(session: Session, st: _Statements, cur) -> dict[str, Task]:
    return {row["id"]: adopt(session, Task, row) for row in map(st.tasks.row, cur.fetchall())}


def lock_case(uow: UnitOfWork, case_id: int) -> Case | None:
    """The case row, locked for this transaction (``FOR UPDATE``; SQLite's writer lock is taken at BEGIN)."""
    conn, st = _driver(uow)
    cur = conn.cursor()
    _run(cur, st, st.case_by_id, {"case_id": case_id})
    values = cur.fetchone()
    return None if values is None else adopt(uow.session, Case, st.cases.row(values))


def lock_case_of_task(uow: UnitOfWork, task_id: str) -> tuple[Case, dict[str, Task]] | None:
    """Lock the case a task belongs to, then read that task and the case's open tasks.

    Two statements, so the task rows are read after the lock is held (each statement takes its own
    snapshot) and show what the previous holder committed. On PostgreSQL they travel together.
    """
    conn, st = _driver(uow)
    lock, rows = conn.cursor(), conn.cursor()
    with _together(conn, st):
        _run(lock, st, st.case_of_task, {"task_id": task_id})
        _run(rows, st, st.tasks_of_task, {"task_id": task_id})
    values = lock.fetchone()
    if values is None:
        return None
    return adopt(uow.session, Case, st.cases.row(values)), _tasks(uow.session, st, rows)


def open_tasks(uow: UnitOfWork, case_id: int) -> dict[str, Task]:
    conn, st = _driver(uow)
    cur = conn.cursor()
    _run(cur, st, st.open_tasks, {"case_id": case_id})
    return _tasks(uow.session, st, cur)


# -- writing: one batch per state change -----------------------------------------------------------

def _update(conn, st: _Statements, spec: _Table, obj: Any, values: dict[str, Any]):
    params = spec.params(values)
    params["w_id"], params["w_version"] = obj.id, obj.version
    cur = conn.cursor()
    _run(cur, st, spec.update_sql(tuple(values)), params)
    return cur


def _insert(conn, st: _Statements, spec: _Table, rows: list[dict[str, Any]], returning: bool):
    """All rows in one statement; with ``returning``, the cursor holding (id, kind) of each."""
    params: dict[str, Any] = {}
    for i, r in enumerate(rows):
        params.update(spec.params(r, f"_{i}"))
    cur = conn.cursor()
    _run(cur, st, spec.insert_sql(tuple(rows[0]), len(rows), returning), params)
    return cur


def write(uow: UnitOfWork, case: Case, case_values: dict[str, Any], *,
          task_updates: list[tuple[Task, dict[str, Any]]], new_tasks: list[dict[str, Any]],
          events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Write one state change: task rows updated and inserted, the case row under its optimistic
    version, the history rows. Returns (id, kind) of each history row, in no promised order.

    Raises ``StaleDataError`` when a case or task row moved since it was read (the unit of work then
    rolls back); only once every row is written are the new values set on the session's objects.
    """
    conn, st = _driver(uow)
    with _together(conn, st):
        updates = [(_update(conn, st, st.tasks, task, values), task, values) for task, values in task_updates]
        if new_tasks:
            _insert(conn, st, st.tasks, new_tasks, returning=False)
        updates.append((_update(conn, st, st.cases, case, case_values), case, case_values))
        added = _insert_events(conn, st, events)
    for cur, obj, _values in updates:
        if cur.rowcount != 1:
            raise StaleDataError(f"{obj.__tablename__} row {obj.id} changed meanwhile "
                                 f"(expected version {obj.version})")
    for _cur, obj, values in updates:
        for key, value in values.items():
            set_committed_value(obj, key, value)
        set_committed_value(obj, "version", obj.version + 1)
    return added()


def _insert_events(conn, st: _Statements, rows: list[dict[str, Any]]) -> Callable[[], list[tuple[int, str]]]:
    """Append the history rows; returns how to read (id, kind) of each once the statements have run
    (PostgreSQL: one INSERT ... RETURNING; SQLite: a statement per row, no round trip in process)."""
    if not rows:
        return list
    if st.dialect == "postgresql":
        cur = _insert(conn, st, st.events, rows, returning=True)
        return lambda: [(r[0], r[1]) for r in cur.fetchall()]
    ids = []
    cur = conn.cursor()
    text = st.events.insert_sql(tuple(rows[0]), 1, returning=False)
    for r in rows:
        cur.execute(text, st.events.params(r, "_0"))
        ids.append((cur.lastrowid, r["kind"]))
    return lambda: ids
