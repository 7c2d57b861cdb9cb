"""A keyset page walk over 500 tasks while tasks are created and completed between the pages."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from engine import broker
from engine.models import Case, Task
from tests.conftest import Api, deploy_reference

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def _rows(rng: random.Random, case_ids: list[int], n: int, now: datetime) -> list[dict]:
    rows = []
    for _ in range(n):
        roll = rng.random()
        # a few share a due instant (the id breaks the tie), a tenth have none (they sort last)
        due = None if roll < 0.1 else T0 + timedelta(hours=rng.randrange(0, 24 * 60) if roll > 0.3 else 5)
        rows.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128))), "case_id": rng.choice(case_ids),
            "case_no": "WALK", "process_id": "one_window", "service_code": "svc_walk", "element_id": "handle",
            "name": "承办", "group": "market_dept", "assignee": None, "state": "open", "properties": {},
            "created_at": now, "due_at": due, "sla_level": None, "version": 1,
        })
    return rows


def _key(item: dict) -> tuple:
    due = item["due_date"]
    return (due is None, datetime.fromisoformat(due) if due else T0, item["id"])


def test_page_walk_returns_each_task_that_existed_throughout_once_in_due_order(any_app):
    # Given 500 open tasks of the market department (a few real cases, task rows inserted directly)
    deploy_reference(any_app)
    window = Api(any_app, "window1")
    for _ in range(3):
        assert window.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}
                           ).status_code == 201
    broker.drain()  # let the SLA clocks settle, so no key moves during the walk
    db = any_app.extensions["onewindow.db"]
    rng = random.Random(20261122)
    now = datetime.now(UTC)
    with db.unit_of_work() as uow:
        case_ids = list(uow.session.scalars(Case.__table__.select().with_only_columns(Case.id)))
        initial = _rows(rng, case_ids, 500, now)
        uow.session.execute(Task.__table__.insert(), initial)
    present = {r["id"] for r in initial}
    removed: set[str] = set()
    created: set[str] = set()
    market1 = Api(any_app, "market1")
    # When market1 walks the queue 37 at a time, while between pages 6 tasks arrive and 6 are completed
    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"view": "queue", "limit": 37, "service": "svc_walk"}
        if cursor:
            params["cursor"] = cursor
        r = market1.get("/api/tasks", query_string=params)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        with db.unit_of_work() as uow:
            fresh = _rows(rng, case_ids, 6, now)
            uow.session.execute(Task.__table__.insert(), fresh)
            created |= {f["id"] for f in fresh}
            gone = rng.sample(sorted(present - removed), 6)
            uow.session.execute(update(Task).where(Task.id.in_(gone))
                                .values(state="completed", completed_by="market2", completed_at=now))
            removed |= set(gone)
    # Then every task that existed throughout came exactly once, in due-date order, none twice
    got = [i["id"] for i in seen]
    assert len(got) == len(set(got)), "a task came twice"
    assert (present - removed) <= set(got)
    assert set(got) <= present | created
    assert [_key(i) for i in seen] == sorted(_key(i) for i in seen)
    assert pages >= 14
    # And no item shows a due date earlier than the one before it: overdue first, undated last
    dues = [i["due_date"] for i in seen]
    assert dues[-1] is None and dues[0] is not None
