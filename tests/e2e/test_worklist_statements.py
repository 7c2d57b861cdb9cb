"""What a list request sends to the database: the list statement alone once the token is known, and on
PostgreSQL the very text the benchmark times; the driver path answers as SQLAlchemy would."""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import event

from engine import broker, identity
from engine.models import Case, Task
from tests.conftest import Api, deploy_reference
from worklists import queries, rows

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
# fractions PostgreSQL prints trimmed (.5, .12345), none at all, and the extremes
MICROS = [0, 500000, 123450, 1, 999999, 120000, 654321]


@contextmanager
def statements(app):
    """Every statement the app sends, as SQL text: at the driver on PostgreSQL (the list bypasses
    SQLAlchemy there), at SQLAlchemy's cursor execution on SQLite, where the read session's own
    ``BEGIN IMMEDIATE`` (engine/db.py) is left out. Only this thread's: the in-process broker's worker
    thread may be handling an event meanwhile."""
    sent: list[str] = []
    me = threading.get_ident()
    engine = app.extensions["onewindow.db"].engine
    if engine.dialect.name == "postgresql":
        original = psycopg.Cursor.execute

        def execute(self, query, params=None, **kw):
            if threading.get_ident() == me:
                sent.append(str(query))
            return original(self, query, params, **kw)

        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        try:
            yield sent
        finally:
            psycopg.Cursor.execute = original  # type: ignore[method-assign]
        return

    def record(_conn, _cursor, statement, *_args):
        if threading.get_ident() == me and not statement.startswith("BEGIN"):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _seed(app, n: int = 40) -> None:
    """Open market tasks with due dates (a few without), inserted as rows."""
    deploy_reference(app)
    api = Api(app, "window1")
    assert api.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}).status_code == 201
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        case_id = uow.session.scalars(Case.__table__.select().with_only_columns(Case.id)).first()
        uow.session.execute(Task.__table__.insert(), [{
            "id": str(uuid.UUID(int=i + 1)), "case_id": case_id, "case_no": f"ST{i:04d}", "process_id": "one_window",
            "service_code": "svc_st", "element_id": "handle", "name": "承办", "group": "market_dept",
            "assignee": "market1" if i % 5 == 0 else None, "state": "claimed" if i % 5 == 0 else "open",
            "properties": {}, "created_at": T0 + timedelta(minutes=i, microseconds=MICROS[i % len(MICROS)]),
            "due_at": None if i % 9 == 0 else T0 + timedelta(hours=i % 7, microseconds=MICROS[(i * 3) % len(MICROS)]),
            "sla_level": None, "version": 1,
        } for i in range(n)])
    broker.drain()


def test_a_list_request_sends_the_list_statement_alone_once_the_token_is_known(any_app):
    _seed(any_app)
    market1 = Api(any_app, "market1")
    params = {"view": "queue", "limit": 3, "service": "svc_st"}
    identity.actors.clear()
    # When the token is not cached yet: one statement to learn who asks, then the list
    with statements(any_app) as sent:
        assert market1.get("/api/tasks", query_string=params).status_code == 200
    assert len(sent) == 2, sent
    assert "api_tokens" in sent[0] and "FROM tasks" in sent[1]
    # When it is: the list statement and nothing else (the dated ranges fill the page)
    with statements(any_app) as sent:
        body = market1.get("/api/tasks", query_string=params).get_json()
    assert len(sent) == 1, sent
    assert "FROM tasks" in sent[0] and "api_tokens" not in sent[0]
    assert len(body["items"]) == 3 and body["next_cursor"]


@pytest.mark.parametrize("view,sort", [("queue", "due"), ("queue", "-created"), ("team", "due"), ("team", "case_no"),
                                       ("inbox", "due"), ("queue", "created")])
def test_the_driver_path_answers_as_sqlalchemy_does(pg_app, view, sort):
    # Given tasks whose instants have every shape of fraction PostgreSQL prints
    _seed(pg_app)
    db = pg_app.extensions["onewindow.db"]
    actor = {"inbox": identity.Actor("market1", frozenset({"market_dept"})),
             "team": identity.Actor("market_lead", supervises=frozenset({"market_dept"}))}.get(
        view, identity.Actor("market1", frozenset({"market_dept"})))
    # When each walks the view 7 at a time, on the driver (a Connection) and through SQLAlchemy (a Session)
    walks = []
    for reader in (lambda: db.engine.connect().execution_options(isolation_level="AUTOCOMMIT"), db.read):
        pages, cursor = [], None
        with reader() as r:
            while True:
                page = queries.task_page(r, actor, view, None, sort, 7, cursor)
                pages.append((page.items, page.next_cursor))
                cursor = page.next_cursor
                if cursor is None:
                    break
        walks.append(pages)
    # Then the items and the cursors are the same, instants spelled as isoformat() in UTC
    assert walks[0] == walks[1]
    items = [i for page, _ in walks[0] for i in page]
    assert items and all(datetime.fromisoformat(i["created_at"]).isoformat() == i["created_at"] for i in items)
    assert all(i["created_at"].endswith("+00:00") for i in items)


def _seeded_queue(pg_app):
    """The database, a caseworker of market_dept, and their queue's first page read through SQLAlchemy."""
    _seed(pg_app)
    db = pg_app.extensions["onewindow.db"]
    actor = identity.Actor("market1", frozenset({"market_dept"}))
    with db.read() as s:
        return db, actor, queries.task_page(s, actor, "queue", None, "due", 50).items


def test_the_driver_path_spells_instants_in_utc_whatever_the_session_zone(pg_app):
    db, actor, expected = _seeded_queue(pg_app)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        got = queries.task_page(conn, actor, "queue", None, "due", 50).items
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
    assert got == expected


def test_the_benchmark_times_the_text_the_api_sends(pg_app):
    _seed(pg_app)
    db = pg_app.extensions["onewindow.db"]
    actor = identity.Actor("market1", frozenset({"market_dept"}))
    stmts, params, _sort = queries.list_statement(actor, "queue", queries.Filters(service="svc_st"), None, 3)
    sql, _driver_params = rows.driver_sql(stmts[0], db.engine.dialect, params)
    market1 = Api(pg_app, "market1")
    market1.get("/api/me")
    with statements(pg_app) as sent:
        market1.get("/api/tasks", query_string={"view": "queue", "limit": 3, "service": "svc_st"})
    assert sent == [sql]


def test_a_list_page_on_postgresql_runs_in_autocommit_with_no_transaction_to_end(pg_app):
    # Given a caseworker whose token is cached
    _seed(pg_app)
    market1 = Api(pg_app, "market1")
    assert market1.get("/api/tasks", query_string={"view": "queue"}).status_code == 200
    seen: list[tuple[str, bool, int]] = []
    original = psycopg.Cursor.execute

    def execute(self, query, params=None, **kw):
        seen.append((str(query), self.connection.autocommit, self.connection.info.transaction_status))
        return original(self, query, params, **kw)

    # When a page is read
    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        assert market1.get("/api/tasks", query_string={"view": "queue", "limit": 5}).status_code == 200
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
    # Then its statement ran on an autocommit connection that held no transaction (no BEGIN sent)
    lists = [s for s in seen if "FROM tasks" in s[0]]
    assert lists and all(autocommit and status == psycopg.pq.TransactionStatus.IDLE
                         for _q, autocommit, status in lists), seen


def test_the_read_pool_plans_a_statement_once_per_connection(pg_app):
    # The list statements walk index ranges whatever their values: on the autocommit read pool a
    # prepared statement keeps one generic plan instead of being planned again on every execution
    # (PostgreSQL's own choice flipped between the two from run to run: 0.4 against 1.5 ms a page).
    db = pg_app.extensions["onewindow.db"]
    with db.autocommit_engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_generic_plan"
    with db.engine.connect() as conn:  # transactions keep PostgreSQL's default
        assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "auto"


def test_the_read_pool_lends_the_connection_returned_last(pg_app):
    # Under a light load a request should meet the server process the previous one warmed up
    db = pg_app.extensions["onewindow.db"]
    first, second = db.autocommit_engine.raw_connection(), db.autocommit_engine.raw_connection()
    first_driver, second_driver = first.driver_connection, second.driver_connection
    first.close()
    second.close()
    again = db.autocommit_engine.raw_connection()
    try:
        assert again.driver_connection is second_driver and again.driver_connection is not first_driver
    finally:
        again.close()


def test_a_pooled_connection_keeps_one_list_cursor(pg_app):
    db, actor, expected = _seeded_queue(pg_app)
    with db.driver_reader() as pooled:
        reader = rows.Driver(pooled, db.autocommit_engine.dialect)
        # Given two pages read on one pooled connection
        assert queries.task_page(reader, actor, "queue", None, "due", 50).items == expected
        kept = pooled.info["onewindow.list_cursor"]
        assert queries.task_page(reader, actor, "queue", None, "due", 50).items == expected
        # Then both used the same cursor
        assert pooled.info["onewindow.list_cursor"] is kept and not kept.closed
        # And a cursor that was closed is replaced, not used
        kept.close()
        assert queries.task_page(reader, actor, "queue", None, "due", 50).items == expected
        assert pooled.info["onewindow.list_cursor"] is not kept
