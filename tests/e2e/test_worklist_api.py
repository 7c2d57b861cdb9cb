"""Worklists through the HTTP API: views and who sees what, filters, sorting, badges, forms, transitions."""

from __future__ import annotations

import pytest

from tests.conftest import Api, deploy_reference


@pytest.fixture
def office(any_app):
    deploy_reference(any_app)
    return any_app


@pytest.fixture
def lite(sqlite_app):
    deploy_reference(sqlite_app)
    return sqlite_app


def start(app, category: str, subject: str = "示范餐饮店", service: str | None = None) -> str:
    """Start a case the way intake does (with the applicant's name as the subject)."""
    from engine import cases
    from engine.identity import Actor

    with app.extensions["onewindow.db"].unit_of_work() as uow:
        case = cases.start_case(uow, "one_window", {"category": category}, Actor("window1", frozenset({"front_desk"})),
                                service_code=service or f"svc_{category}", subject=subject)
        return case.case_no


def open_task(app, case_no: str, element_id: str) -> dict:
    view = Api(app, "admin").get(f"/api/cases/{case_no}").get_json()
    tasks = [t for t in view["open_tasks"] if t["element_id"] == element_id]
    assert len(tasks) == 1, view["open_tasks"]
    return tasks[0]


def complete(app, user: str, task_id: str, data: dict, status: int = 200):
    r = Api(app, user).post(f"/api/tasks/{task_id}/complete", json={"data": data})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def at_handle(app, category: str = "food", subject: str = "示范餐饮店") -> tuple[str, dict]:
    """A case accepted at the window, waiting at the department's handle step."""
    no = start(app, category, subject)
    complete(app, "window1", open_task(app, no, "intake")["id"], {"decision": "accept"})
    return no, open_task(app, no, "handle")


def ids(api: Api, view: str, **params) -> list[str]:
    r = api.get("/api/tasks", query_string={"view": view, **params})
    assert r.status_code == 200, r.get_json()
    return [t["id"] for t in r.get_json()["items"]]


def history(app, case_no: str) -> list[dict]:
    return Api(app, "admin").get(f"/api/cases/{case_no}").get_json()["history"]


def test_caseworker_sees_only_their_groups_supervisor_also_team_other_group_404(office):
    # Given one task in the market department and one in the health department
    _, market = at_handle(office, "food")
    _, health = at_handle(office, "medical")
    market1, health1, lead = Api(office, "market1"), Api(office, "health1"), Api(office, "market_lead")
    # Then each caseworker's queue holds only their group's task
    assert ids(market1, "queue") == [market["id"]]
    assert ids(health1, "queue") == [health["id"]]
    # And the market supervisor sees the market team's task, not the health one
    assert ids(lead, "team") == [market["id"]]
    assert ids(Api(office, "director"), "team", sort="case_no") == [market["id"], health["id"]]
    # And a caseworker's team view is empty (they supervise nobody)
    assert ids(market1, "team") == []
    # When market1 asks for, claims or completes the health task directly: 404, as if it did not exist
    assert market1.get(f"/api/tasks/{health['id']}").status_code == 404
    assert market1.post(f"/api/tasks/{health['id']}/claim").status_code == 404
    r = market1.post(f"/api/tasks/{health['id']}/complete", json={"data": {"outcome": "submit"}})
    assert r.status_code == 404
    assert market1.get(f"/api/tasks/{market['id']}").status_code == 200


def test_every_item_carries_the_list_fields(lite):
    _, task = at_handle(lite)
    item = Api(lite, "market1").get("/api/tasks?view=queue").get_json()["items"][0]
    for key in ("id", "case_no", "service", "name", "element_id", "group", "assignee", "created_at", "due_date",
                "sla_level"):
        assert key in item
    assert item["element_id"] == "handle" and item["group"] == "market_dept" and item["assignee"] is None


def test_claim_moves_the_task_from_queue_to_inbox_and_badges_follow(office):
    _, task = at_handle(office)
    market1, market2 = Api(office, "market1"), Api(office, "market2")
    assert market1.get("/api/tasks/counts").get_json() == {"inbox": 0, "queue": 1, "archive": 0, "team": 0,
                                                           "cap": 1000}
    r = market1.post(f"/api/tasks/{task['id']}/claim", json={"version": task["version"]})
    assert r.status_code == 200 and r.get_json()["assignee"] == "market1"
    assert ids(market1, "inbox") == [task["id"]] and ids(market1, "queue") == []
    assert market1.get("/api/tasks/counts").get_json() == {"inbox": 1, "queue": 0, "archive": 0, "team": 0,
                                                           "cap": 1000}
    # A colleague's claim now conflicts and names the holder
    r = market2.post(f"/api/tasks/{task['id']}/claim")
    assert r.status_code == 409 and r.get_json()["holder"] == "market1"
    # A stale version conflicts too
    r = market1.post(f"/api/tasks/{task['id']}/unclaim", json={"version": task["version"]})
    assert r.status_code == 409
    assert market1.post(f"/api/tasks/{task['id']}/unclaim").status_code == 200
    assert ids(market2, "queue") == [task["id"]]
    # After completion the task is in the archive of whoever completed it
    complete(office, "market2", task["id"], {"outcome": "submit", "opinion": "材料齐全"})
    assert ids(market2, "archive") == [task["id"]]
    assert ids(market1, "archive") == []
    kinds = [e["what"] for e in history(office, task["case_no"]) if e["task_id"] == task["id"]]
    assert kinds == ["task_created", "task_claimed", "task_unclaimed", "task_completed"]


def test_filters_search_and_sorts(lite):
    from datetime import UTC, datetime

    from engine.models import Task

    no_a, a = at_handle(lite, "food", "张三餐饮店")
    no_b, b = at_handle(lite, "business", "李四商贸")
    no_c, c = at_handle(lite, "food", "王五小吃")
    from engine import broker

    broker.drain()  # the SLA clocks fill due dates after commit: let them finish, then set ours
    db = lite.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        for tid, due, level in ((a["id"], datetime(2026, 3, 2, tzinfo=UTC), "red"),
                                (b["id"], datetime(2026, 3, 20, tzinfo=UTC), "yellow"),
                                (c["id"], None, None)):
            row = uow.session.get(Task, tid)
            row.due_at, row.sla_level = due, level
    market1 = Api(lite, "market1")
    # due date first (most urgent, overdue on top), no due date last
    assert ids(market1, "queue") == [a["id"], b["id"], c["id"]]
    assert ids(market1, "queue", sla="red") == [a["id"]]
    assert ids(market1, "queue", due_before="2026-03-10") == [a["id"]]
    assert ids(market1, "queue", due_after="2026-03-10") == [b["id"]]
    assert ids(market1, "queue", q="李四") == [b["id"]]
    assert ids(market1, "queue", q=no_c) == [c["id"]]
    assert ids(market1, "queue", q="王五", task="handle") == [c["id"]]
    assert ids(market1, "queue", task="承办", process="one_window", department="market_dept") == [
        a["id"], b["id"], c["id"]]
    assert ids(market1, "queue", department="health_dept") == []
    assert ids(market1, "queue", sort="-case_no") == [c["id"], b["id"], a["id"]]
    items = market1.get("/api/tasks?view=queue&sort=created").get_json()["items"]
    assert [i["id"] for i in items] == [i["id"] for i in sorted(items, key=lambda i: (i["created_at"], i["id"]))]
    assert {i["id"] for i in items} == {a["id"], b["id"], c["id"]}
    # bad input names the field
    r = market1.get("/api/tasks", query_string={"sla": "purple", "due_before": "soon"})
    assert r.status_code == 422
    assert {p["field"] for p in r.get_json()["problems"]} == {"sla", "due_before"}
    assert market1.get("/api/tasks?view=nope").status_code == 422
    assert market1.get("/api/tasks?cursor=garbage").get_json()["problems"][0]["field"] == "cursor"


def test_keyset_pages_with_cursor(lite):
    from engine import broker

    tasks = [at_handle(lite, "food", f"申请人{i}")[1] for i in range(5)]
    broker.drain()  # the SLA clocks give the new tasks their due dates after commit: let them land first
    market1 = Api(lite, "market1")
    seen, cursor = [], None
    while True:
        params = {"view": "queue", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = market1.get("/api/tasks", query_string=params).get_json()
        seen += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    whole = market1.get("/api/tasks", query_string={"view": "queue", "limit": 200}).get_json()["items"]
    assert seen == [t["id"] for t in whole] and sorted(seen) == sorted(t["id"] for t in tasks)
    # a cursor made for one sort is refused by another
    first = market1.get("/api/tasks?view=queue&limit=1").get_json()["next_cursor"]
    r = market1.get("/api/tasks", query_string={"view": "queue", "sort": "created", "cursor": first})
    assert r.status_code == 422


def test_invalid_form_data_is_422_naming_the_fields(office):
    _, task = at_handle(office)
    r = Api(office, "market1").post(f"/api/tasks/{task['id']}/complete", json={"data": {"opinion": 5}})
    assert r.status_code == 422
    assert {p["field"] for p in r.get_json()["problems"]} == {"outcome", "opinion"}
    r = Api(office, "market1").post(f"/api/tasks/{task['id']}/complete",
                                    json={"data": {"outcome": "maybe", "opinion": "同意"}})
    assert r.status_code == 422 and [p["field"] for p in r.get_json()["problems"]] == ["outcome"]
    # approve decides with one field and signs its opinion; the case's result is not a field of the form
    complete(office, "market1", task["id"], {"outcome": "submit", "opinion": "同意"})
    review = open_task(office, task["case_no"], "review")
    complete(office, "market2", review["id"], {"outcome": "pass", "opinion": "同意"})
    approve = open_task(office, task["case_no"], "approve")
    body = complete(office, "market3", approve["id"], {"outcome": "approved"}, status=422)
    assert [p["field"] for p in body["problems"]] == ["opinion"]
    body = complete(office, "market3", approve["id"], {"outcome": "approved", "result": "refused", "opinion": "同意"},
                    status=422)
    assert [p["field"] for p in body["problems"]] == ["result"]


def test_task_detail_has_schema_defaults_and_allowed_actions(lite):
    _, task = at_handle(lite)
    body = Api(lite, "market1").get(f"/api/tasks/{task['id']}").get_json()
    assert body["form"]["schema"]["title"] == "承办"
    assert body["form"]["send_back"] is None  # handle has no send-back path
    assert body["allowed"]["claim"] and body["allowed"]["complete"] and not body["allowed"]["send_back"]
    assert body["colleagues"] == ["market2", "market3"]
    assert body["case"]["subject"] == "示范餐饮店"


def test_send_back_returns_to_previous_step_with_reason_and_data_kept(office):
    # Given the handle step completed with an opinion, and review open
    no, handle = at_handle(office, "construction")
    complete(office, "housing1", handle["id"], {"outcome": "submit", "opinion": "现场核查通过"})
    review = open_task(office, no, "review")
    housing1, housing2, housing3 = Api(office, "housing1"), Api(office, "housing2"), Api(office, "housing3")
    assert housing2.get(f"/api/tasks/{review['id']}").get_json()["form"]["send_back"] == {
        "field": "outcome", "value": "send_back"}
    # When review sends it back without a reason: 422; with one: done
    r = housing2.post(f"/api/tasks/{review['id']}/send-back", json={"reason": " "})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "reason"
    r = housing2.post(f"/api/tasks/{review['id']}/send-back", json={"reason": "图纸缺页"})
    assert r.status_code == 200, r.get_json()
    # Then the case is back at handle, the reason in the history, the earlier data offered as defaults
    again = open_task(office, no, "handle")
    assert again["id"] != handle["id"]
    detail = housing1.get(f"/api/tasks/{again['id']}").get_json()
    assert detail["form"]["defaults"] == {"outcome": "submit", "opinion": "现场核查通过"}
    events = history(office, no)
    back = [e for e in events if e["what"] == "task_sent_back"]
    assert len(back) == 1 and back[0]["data"] == {"reason": "图纸缺页", "to": ["handle"]}
    assert back[0]["who"] == "housing2" and back[0]["element_id"] == "review"
    done = [e for e in events if e["what"] == "task_completed" and e["task_id"] == review["id"]][0]
    assert done["data"]["reason"] == "图纸缺页" and done["data"]["data"]["outcome"] == "send_back"
    # And a step without a modelled send-back path refuses it
    r = housing1.post(f"/api/tasks/{again['id']}/send-back", json={"reason": "x"})
    assert r.status_code == 403
    # approve sends back to review the same way
    complete(office, "housing1", again["id"], {"outcome": "submit", "opinion": "已补齐图纸"})
    complete(office, "housing2", open_task(office, no, "review")["id"], {"outcome": "pass", "opinion": "同意"})
    approve = open_task(office, no, "approve")
    r = housing3.post(f"/api/tasks/{approve['id']}/send-back", json={"reason": "请复核面积"})
    assert r.status_code == 200
    review2 = open_task(office, no, "review")
    assert housing2.get(f"/api/tasks/{review2['id']}").get_json()["form"]["defaults"]["opinion"] == "同意"


def test_delegate_to_a_colleague_and_reassign_by_supervisor(office):
    _, task = at_handle(office)
    market1, market2, lead = Api(office, "market1"), Api(office, "market2"), Api(office, "market_lead")
    assert market1.post(f"/api/tasks/{task['id']}/claim").status_code == 200
    # delegate only within the group
    r = market1.post(f"/api/tasks/{task['id']}/delegate", json={"to": "health1"})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "to"
    # someone who does not hold it cannot delegate it: 409 naming the holder
    r = market2.post(f"/api/tasks/{task['id']}/delegate", json={"to": "market2x"})
    assert r.status_code == 409 and r.get_json()["holder"] == "market1"
    r = Api(office, "health1").post(f"/api/tasks/{task['id']}/delegate", json={"to": "market2"})
    assert r.status_code == 404
    r = market1.post(f"/api/tasks/{task['id']}/delegate", json={"to": "market2", "reason": "休假"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "market2"
    r = market2.post(f"/api/tasks/{task['id']}/delegate", json={"to": "market2"})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "to"  # not to oneself
    assert ids(market2, "inbox") == [task["id"]]
    # a caseworker cannot reassign; the group's supervisor can, whoever holds it
    assert market2.post(f"/api/tasks/{task['id']}/reassign", json={"to": "market1"}).status_code == 403
    r = lead.post(f"/api/tasks/{task['id']}/reassign", json={"to": "market1", "reason": "均衡工作量"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "market1"
    moves = [(e["what"], e["who"], e["data"]) for e in history(office, task["case_no"])
             if e["what"] in ("task_delegated", "task_reassigned")]
    assert moves == [("task_delegated", "market1", {"from": "market1", "to": "market2", "reason": "休假"}),
                     ("task_reassigned", "market_lead", {"from": "market2", "to": "market1", "reason": "均衡工作量"})]


def test_badge_counts_stop_at_the_cap(lite):
    from engine.identity import Actor
    from worklists import queries

    for i in range(3):
        at_handle(lite, "food", f"申请人{i}")
    market1 = Actor("market1", frozenset({"market_dept"}))
    with lite.extensions["onewindow.db"].read() as s:
        assert queries.counts(s, market1)["queue"] == 3
        assert queries.counts(s, market1, cap=2)["queue"] == 2
