"""The case store's hot path writes past the ORM; the session must stay true and versions must hold.

On SQLite and on PostgreSQL: objects the session already holds see what a completion wrote, a later
ORM change to them flushes on top of the new version, rows written by the store read back through
the ORM exactly as rows the ORM writes, and a row that moved between read and write is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm.exc import StaleDataError

from engine import cases, store
from engine.identity import Actor
from engine.models import Case, CaseEvent, Task
from tests.conftest import deploy_reference

DESK = Actor("window1", frozenset({"front_desk"}))


def _case_with_open_intake(app) -> tuple[str, str]:
    deploy_reference(app)
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": "food"}, DESK)
        no = case.case_no
    with db.read() as s:
        task_id = s.scalar(select(Task.id).where(Task.case_no == no, Task.state == "open"))
    return no, task_id


def test_objects_the_session_holds_see_the_completion_and_later_orm_changes_flush(any_app):
    no, task_id = _case_with_open_intake(any_app)
    db = any_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        held_task = uow.session.get(Task, task_id)
        held_case = uow.session.scalar(select(Case).where(Case.case_no == no))
        case_version, task_version = held_case.version, held_task.version
        returned = cases.complete(uow, task_id, {"decision": "accept"}, DESK)
        # the very objects the session held, refreshed and written as committed
        assert returned is held_case
        assert held_task.state == "completed" and held_task.completed_by == "window1"
        assert held_task.version == task_version + 1 and held_case.version == case_version + 1
        assert held_task.data == {"decision": "accept"}
        assert not uow.session.dirty
        # an ORM change after the store's write goes on from the new version
        held_case.subject = "张三"
    with db.read() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        assert case.subject == "张三" and case.version == case_version + 2
        task = s.get(Task, task_id)
        assert (task.state, task.completed_by, task.data) == ("completed", "window1", {"decision": "accept"})
        assert task.completed_at.tzinfo is UTC and task.completed_at <= datetime.now(UTC)
        new = s.scalars(select(Task).where(Task.case_id == case.id, Task.state == "open")).all()
        assert [(t.element_id, t.group, t.properties is not None, t.version) for t in new] == [
            ("handle", new[0].group, True, 1)]
        kinds = [e.kind for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                           .order_by(CaseEvent.id))]
        assert kinds.index("task_completed") < kinds.index("task_created", kinds.index("task_completed"))
        assert all(isinstance(e.data, dict) for e in s.scalars(select(CaseEvent)))


def test_history_recorded_through_the_orm_before_a_completion_keeps_its_place(any_app):
    from engine import events

    no, task_id = _case_with_open_intake(any_app)
    db = any_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        case = uow.session.scalar(select(Case).where(Case.case_no == no))
        events.record(uow, case.id, "note_before", actor="window1")  # pending in the session
        cases.complete(uow, task_id, {"decision": "accept"}, DESK)
        events.record(uow, case.id, "note_after", actor="window1")
    with db.read() as s:
        kinds = [e.kind for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                           .order_by(CaseEvent.id))]
    assert kinds.index("note_before") < kinds.index("task_completed") < kinds.index("note_after")


def test_a_row_that_moved_between_read_and_write_is_refused_and_nothing_is_written(any_app, monkeypatch):
    no, task_id = _case_with_open_intake(any_app)
    db = any_app.extensions["onewindow.db"]
    with db.read() as s:
        before = s.scalar(select(Case.version).where(Case.case_no == no))
        events_before = s.scalar(select(text("count(*)")).select_from(CaseEvent))
    real_write = store.write

    def racing_write(uow, case, *args, **kwargs):
        # another writer got in between (impossible under the row lock; the version check is the
        # second line of defence, and must hold on its own)
        uow.session.connection().execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"),
                                         {"id": case.id})
        return real_write(uow, case, *args, **kwargs)

    monkeypatch.setattr(store, "write", racing_write)
    with pytest.raises(StaleDataError), db.unit_of_work() as uow:
        cases.complete(uow, task_id, {"decision": "accept"}, DESK)
    monkeypatch.setattr(store, "write", real_write)
    with db.read() as s:
        assert s.scalar(select(Case.version).where(Case.case_no == no)) == before
        assert s.get(Task, task_id).state == "open"
        assert s.scalar(select(text("count(*)")).select_from(CaseEvent)) == events_before
    # and the completion then goes through once
    with db.unit_of_work() as uow:
        cases.complete(uow, task_id, {"decision": "accept"}, DESK)
    with db.read() as s:
        assert s.get(Task, task_id).state == "completed"


def test_a_step_that_opens_two_tasks_writes_both_rows(any_app):
    # catering is the joint path: accepting it opens the lead department's step and the co-review
    deploy_reference(any_app)
    db = any_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        no = cases.start_case(uow, "one_window", {"category": "catering"}, DESK).case_no
    with db.read() as s:
        task_id = s.scalar(select(Task.id).where(Task.case_no == no, Task.state == "open"))
    with db.unit_of_work() as uow:
        cases.complete(uow, task_id, {"decision": "accept"}, DESK)
    with db.read() as s:
        open_rows = s.scalars(select(Task).where(Task.case_no == no, Task.state == "open")).all()
        created = s.scalars(select(CaseEvent).where(CaseEvent.kind == "task_created",
                                                     CaseEvent.task_id.in_([t.id for t in open_rows]))).all()
    assert sorted((t.element_id, t.group) for t in open_rows) == [("co_review", "health_dept"),
                                                                  ("handle", "market_dept")]
    assert len(created) == 2


def test_a_read_session_never_writes_what_it_holds(any_app):
    # a clean read ends with COMMIT (so psycopg keeps its prepared statements); one holding changes
    # (a misuse) is rolled back, never committed
    no, _task_id = _case_with_open_intake(any_app)
    db = any_app.extensions["onewindow.db"]
    with db.read() as s:
        s.scalar(select(Case).where(Case.case_no == no)).subject = "written by a read?"
    with db.read() as s:
        s.scalar(select(Case).where(Case.case_no == no)).subject = "or by the next query's flush?"
        s.scalar(select(Case.id).where(Case.case_no == no))
    with db.read() as s:
        assert s.scalar(select(Case.subject).where(Case.case_no == no)) is None
    with pytest.raises(RuntimeError), db.read() as s:
        s.scalar(select(Case).where(Case.case_no == no)).subject = "nor on an error"
        raise RuntimeError("boom")
    with db.read() as s:
        assert s.scalar(select(Case.subject).where(Case.case_no == no)) is None
