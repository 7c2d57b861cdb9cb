"""Moving running cases to a new version of their process (issue 14, point 6; acceptance 5).

Reference cases start on v1 of bpmn/processes/one_window.bpmn; v2 adds 法制审核 after 审核 (after the
cases' position); another version drops 等待补充材料. ``onewindow migrate`` and the API move each case in
a transaction of its own; a dry run writes nothing; a case waiting on an element the new version lacks
is refused naming it, while the others move.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import broker, clock
from engine.models import Case, CaseEvent, MessageWait, Task, TaskCandidate, Timer
from sla.models import Clock, ClockEntry
from tests.conftest import Api
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    all_food_materials,
    apply,
    complete_open,
    decide,
    setup_office,
    travel,
)
from tests.e2e.versions import deploy_text, with_legal_review, without_supplement


@pytest.fixture
def office_app(any_app):
    setup_office(any_app)
    travel(MONDAY)
    yield any_app
    clock.set_default(None)


def accepted(app) -> str:
    no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    decide(app, no, {"decision": "accept"})
    return no


def rows(app) -> dict[str, list]:
    """Every row a migration may touch, as plain tuples (for before/after comparisons)."""
    broker.drain()
    with app.extensions["onewindow.db"].read() as s:
        def all_of(model, *order):
            return [tuple(getattr(r, c.key) for c in model.__table__.columns)
                    for r in s.scalars(select(model).order_by(*order))]

        return {"cases": all_of(Case, Case.id), "tasks": all_of(Task, Task.id), "timers": all_of(Timer, Timer.id),
                "waits": all_of(MessageWait, MessageWait.task_id),
                "candidates": all_of(TaskCandidate, TaskCandidate.task_id, TaskCandidate.name),
                "events": all_of(CaseEvent, CaseEvent.id), "clocks": all_of(Clock, Clock.id),
                "ledger": all_of(ClockEntry, ClockEntry.id)}


def case_view(app, no: str) -> dict:
    return Api(app, "admin").get(f"/api/cases/{no}").get_json()


def case_clock(app, no: str) -> dict:
    broker.drain()  # the clocks follow the case's events after the commit
    return Api(app, "admin").get(f"/api/cases/{no}/clock").get_json()["case_clock"]


def migrate_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["migrate", "one_window", *args])


def test_running_cases_move_to_v2_with_a_step_after_their_position_and_walk_through_it(office_app):
    # Given two cases at 承办 on v1 (one claimed by market1) and one waiting for corrected materials,
    # whose 60-day timer is running
    at_handle = [accepted(office_app) for _ in range(2)]
    claimed = [t for t in case_view(office_app, at_handle[1])["open_tasks"] if t["element_id"] == "handle"][0]
    assert Api(office_app, "market1").post(f"/api/tasks/{claimed['id']}/claim", json={}).status_code == 200
    waiting = apply(office_app, FOOD, materials=all_food_materials())["case_no"]
    decide(office_app, waiting, {"decision": "correction", "missing": ["premises"]})
    timer_before = rows(office_app)["timers"]
    assert timer_before, "the correction wait has its timer"
    # and v2 deployed, adding 法制审核 after 审核
    assert deploy_text(office_app, with_legal_review()) == 2
    travel(MONDAY + timedelta(hours=2))

    # When an administrator asks for a dry run first
    before = rows(office_app)
    dry = migrate_cli(office_app, "--to", "2", "--dry-run")
    # Then it says each case would move, and no row changed
    assert dry.exit_code == 0, dry.output
    assert dry.output.count(": would migrate") == 3 and "dry run: 3 would migrate" in dry.output
    assert rows(office_app) == before

    # When the cases are migrated
    result = migrate_cli(office_app, "--to", "2")
    assert result.exit_code == 0, result.output
    assert result.output.count(": migrated") == 3
    after = rows(office_app)
    # Then each runs on v2 with the same task ids: open rows, timers and clocks are the same rows
    for no in [*at_handle, waiting]:
        view = case_view(office_app, no)
        assert view["version"] == 2
        event = [e for e in view["history"] if e["what"] == "case_migrated"]
        assert len(event) == 1 and event[0]["who"].startswith("cli:")
        assert event[0]["data"]["from_version"] == 1 and event[0]["data"]["to_version"] == 2
        assert event[0]["data"]["map"] == {}
    assert {t[0] for t in after["tasks"]} == {t[0] for t in before["tasks"]}
    assert after["timers"] == timer_before  # the correction deadline did not restart
    assert [(c[0], c[1], c[2]) for c in after["clocks"]] == [(c[0], c[1], c[2]) for c in before["clocks"]]
    assert after["ledger"] == before["ledger"]
    still_claimed = [t for t in case_view(office_app, at_handle[1])["open_tasks"] if t["id"] == claimed["id"]][0]
    assert (still_claimed["state"], still_claimed["assignee"]) == ("claimed", "market1")

    # When the first case is walked on: 承办, 审核, then the new 法制审核, then 批准
    no = at_handle[0]
    complete_open(office_app, no, "handle", {"outcome": "submit", "opinion": "符合条件"})
    complete_open(office_app, no, "review", {"outcome": "pass", "opinion": "同意"})
    legal = [t for t in case_view(office_app, no)["open_tasks"] if t["element_id"] == "legal_review"]
    # Then the step v2 added comes after 审核, queued to the department
    assert len(legal) == 1 and legal[0]["group"] == "market_dept" and legal[0]["name"] == "法制审核"
    complete_open(office_app, no, "legal_review", {"opinion": "合法合规"})
    complete_open(office_app, no, "approve", {"outcome": "approved", "opinion": "同意"})
    view = case_view(office_app, no)
    assert [t["element_id"] for t in view["open_tasks"]] == ["issue_result"]
    done = [e["element_id"] for e in view["history"] if e["what"] == "task_completed"]
    assert done[-4:] == ["handle", "review", "legal_review", "approve"]


def test_a_case_waiting_on_a_removed_element_is_refused_with_its_id_and_the_others_move(sqlite_app):
    setup_office(sqlite_app)
    travel(MONDAY)
    try:
        # Given a case waiting for supplementary materials (等待补充材料) and one at 承办
        asked = accepted(sqlite_app)
        complete_open(sqlite_app, asked, "handle", {"outcome": "request_materials", "opinion": "缺少平面图"})
        assert case_view(sqlite_app, asked)["waiting_for"] == ["await_supplement"]
        plain = accepted(sqlite_app)
        # and a version without that wait
        version = deploy_text(sqlite_app, without_supplement())
        before = rows(sqlite_app)
        admin = Api(sqlite_app, "admin")

        # When an administrator migrates the process over the API
        r = admin.post("/api/definitions/one_window/migrations", json={"to_version": version})
        # Then the waiting case is refused naming await_supplement; the other moved
        assert r.status_code == 200, r.get_json()
        outcome = {c["case_no"]: c for c in r.get_json()["cases"]}
        assert outcome[asked]["outcome"] == "refused"
        assert [b["element_id"] for b in outcome[asked]["blocked"]] == ["await_supplement"]
        assert "--map await_supplement=" in outcome[asked]["blocked"][0]["reason"]
        assert outcome[plain]["outcome"] == "migrated"
        # and the refused case is exactly as it was
        after = rows(sqlite_app)
        refused_id = next(c[0] for c in before["cases"] if c[1] == asked)
        assert [c for c in after["cases"] if c[0] == refused_id] == [c for c in before["cases"] if c[0] == refused_id]
        assert [t for t in after["tasks"] if t[1] == refused_id] == [t for t in before["tasks"] if t[1] == refused_id]
        assert [w for w in after["waits"]] == before["waits"]
        assert [e for e in after["events"] if e[1] == refused_id] == [e for e in before["events"] if e[1] == refused_id]

        # When only that case is asked for, it is 409 with the blocking element
        r = admin.post("/api/definitions/one_window/migrations", json={"to_version": version, "case_no": asked})
        assert r.status_code == 409 and r.get_json()["blocked"][0]["element_id"] == "await_supplement"
        # and the CLI says the same and exits 1
        cli = migrate_cli(sqlite_app, "--to", str(version), "--case", asked)
        assert cli.exit_code == 1 and "[await_supplement]" in cli.output
    finally:
        clock.set_default(None)


def test_a_map_names_the_counterpart_and_the_case_walks_on_from_there(sqlite_app):
    setup_office(sqlite_app)
    travel(MONDAY)
    try:
        # Given a case waiting for supplementary materials, and the version without that wait
        asked = accepted(sqlite_app)
        complete_open(sqlite_app, asked, "handle", {"outcome": "request_materials", "opinion": "缺少平面图"})
        version = deploy_text(sqlite_app, without_supplement())
        broker.drain()
        assert case_clock(sqlite_app, asked)["state"] == "paused"  # the wait pauses the case clock
        # When the map sends it back to 承办
        cli = migrate_cli(sqlite_app, "--to", str(version), "--map", "await_supplement=handle")
        # Then it moves: 承办 is open again, the message wait is gone and the clock runs again
        assert cli.exit_code == 0, cli.output
        assert "await_supplement->handle" in cli.output
        view = case_view(sqlite_app, asked)
        event = [e for e in view["history"] if e["what"] == "case_migrated"][0]
        assert event["data"]["map"] == {"await_supplement": "handle"}
        assert view["version"] == version and view["waiting_for"] == []
        assert [t["element_id"] for t in view["open_tasks"]] == ["handle"]
        assert rows(sqlite_app)["waits"] == []
        assert case_clock(sqlite_app, asked)["state"] == "running"
        # and 承办's step limit, which the wait had none of, starts its clock on the migration's day
        steps = Api(sqlite_app, "admin").get(f"/api/cases/{asked}/clock").get_json()["steps"]
        assert [(c["element_id"], c["state"]) for c in steps] == [("intake", "stopped"), ("handle", "stopped"),
                                                                  ("handle", "running")]
        # and it walks on from there
        complete_open(sqlite_app, asked, "handle", {"outcome": "submit", "opinion": "材料已补齐"})
        assert [t["element_id"] for t in case_view(sqlite_app, asked)["open_tasks"]] == ["review"]
    finally:
        clock.set_default(None)


@pytest.mark.parametrize("body, field", [
    ({"to_version": "2"}, "to_version"),
    ({"to_version": 1, "map": {"nowhere": "handle"}}, "map"),
    ({"to_version": 1, "map": ["a=b"]}, "map"),
    ({"to_version": 1, "dry_run": "yes"}, "dry_run"),
])
def test_a_malformed_request_is_422_naming_the_field(sqlite_app, body, field):
    setup_office(sqlite_app)
    r = Api(sqlite_app, "admin").post("/api/definitions/one_window/migrations", json=body)
    assert r.status_code == 422, r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert field in {p.get("field") for p in r.get_json()["problems"]}


def test_an_unknown_version_is_404_and_only_administrators_migrate(sqlite_app):
    setup_office(sqlite_app)
    assert Api(sqlite_app, "admin").post("/api/definitions/one_window/migrations",
                                         json={"to_version": 9}).status_code == 404
    assert Api(sqlite_app, "designer1").post("/api/definitions/one_window/migrations",
                                             json={"to_version": 1}).status_code == 403
