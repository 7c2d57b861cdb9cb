"""A page that reaches the undated tail reads both parts in one snapshot (found by the load drill: the
SLA dates a new task a moment after its creation, and a caseworker who searched for it at that moment
got a page without it: undated for the first statement, dated for the second)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import event, update

from engine import broker, cases
from engine.identity import Actor
from engine.models import Task
from tests.conftest import Api, deploy_reference


def test_a_task_dated_between_the_two_statements_of_a_page_is_on_it(pg_app):
    # Given an open 承办 task in the market department's queue, not dated yet
    deploy_reference(pg_app)
    db = pg_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": "food"}, Actor("window1", frozenset({"front_desk"})))
        uow.session.add(Task(id=str(uuid.uuid4()), case_id=case.id, case_no=case.case_no, process_id="one_window",
                             element_id="handle", name="承办", group="market_dept", state="open", properties={},
                             created_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), version=1))
    broker.drain()
    with db.unit_of_work() as uow:
        task_id = uow.session.scalar(Task.__table__.select().with_only_columns(Task.id).where(
            Task.group == "market_dept"))
        uow.session.execute(update(Task).where(Task.id == task_id).values(due_at=None))
    market1 = Api(pg_app, "market1")
    market1.get("/api/me")
    dated = []

    def date_it_once(conn, _cursor, statement, *_args):
        # When the SLA dates it right after the page's first statement has read
        if "FROM tasks" in statement and not dated:
            dated.append(True)
            with db.unit_of_work() as uow:
                uow.session.execute(update(Task).where(Task.id == task_id).values(
                    due_at=datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC)))

    event.listen(db.autocommit_engine, "after_cursor_execute", date_it_once)
    try:
        page = market1.get("/api/tasks", query_string={"view": "queue"}).get_json()
    finally:
        event.remove(db.autocommit_engine, "after_cursor_execute", date_it_once)
    # Then the task is on the page, dated
    assert dated
    assert [i["due_date"] for i in page["items"] if i["id"] == task_id] == ["2026-03-09T15:59:59+00:00"]
