"""审批分离: 承办, 审核 and 批准 of one case by three different people (the reference process's separateFrom).

The same person is refused on 审核 after 承办, and on 批准 after either (claim and complete: 403 with the
reason in zh-CN), supervisors and administrators included; a refused request changes nothing; three
people take the case through.
"""

from __future__ import annotations

import pytest

from engine import broker
from tests.conftest import Api, deploy_reference


@pytest.fixture
def office(any_app):
    deploy_reference(any_app)
    return any_app


def open_task(app, case_no: str, element_id: str) -> dict:
    view = Api(app, "admin").get(f"/api/cases/{case_no}").get_json()
    (task,) = [t for t in view["open_tasks"] if t["element_id"] == element_id]
    return task


def accepted_food_case(app) -> str:
    desk = Api(app, "window1")
    no = desk.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}}).get_json()["case_no"]
    r = desk.post(f"/api/tasks/{open_task(app, no, 'intake')['id']}/complete", json={"data": {"decision": "accept"}})
    assert r.status_code == 200, r.get_json()
    return no


def complete(app, user: str, task: dict, data: dict) -> None:
    r = Api(app, user).post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()


def state(app, case_no: str) -> tuple:
    broker.drain()  # the SLA clocks give new tasks their due dates after the commit: let them land first
    view = Api(app, "admin").get(f"/api/cases/{case_no}").get_json()
    return view["history"], view["open_tasks"]


def refused(app, user: str, task: dict, step: str) -> None:
    """``user`` may neither claim nor complete ``task``, is offered neither, and nothing changes."""
    api = Api(app, user)
    before = state(app, task["case_no"])
    for action, body in (("claim", {}), ("complete", {"data": {"outcome": "pass"}})):
        r = api.post(f"/api/tasks/{task['id']}/{action}", json=body)
        assert r.status_code == 403, (user, action, r.get_json())
        assert "审批分离" in r.get_json()["detail"] and f"「{step}」" in r.get_json()["detail"]
    allowed = api.get(f"/api/tasks/{task['id']}").get_json()["allowed"]
    assert not allowed["claim"] and not allowed["complete"] and not allowed["send_back"]
    assert state(app, task["case_no"]) == before


def test_the_same_person_is_refused_on_review_and_approve_and_three_people_succeed(office):
    # Given a food case at 承办, handled by market1
    no = accepted_food_case(office)
    complete(office, "market1", open_task(office, no, "handle"), {"outcome": "submit", "opinion": "符合条件"})
    # When market1 tries 审核: refused, naming 承办
    review = open_task(office, no, "review")
    refused(office, "market1", review, "承办")
    # And market2 reviews
    complete(office, "market2", review, {"outcome": "pass", "opinion": "同意"})
    # Then on 批准 both are refused, each naming the step they did
    approve = open_task(office, no, "approve")
    refused(office, "market1", approve, "承办")
    refused(office, "market2", approve, "审核")
    # And the step cannot be handed to them either, nor are they offered as colleagues
    lead = Api(office, "market_lead")
    for to in ("market1", "market2"):
        r = lead.post(f"/api/tasks/{approve['id']}/reassign", json={"to": to})
        assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "to", r.get_json()
        assert "审批分离" in r.get_json()["problems"][0]["message"]
    assert Api(office, "market3").get(f"/api/tasks/{approve['id']}").get_json()["colleagues"] == []
    # When a third person approves, the case goes on to issuance
    complete(office, "market3", approve, {"outcome": "approved", "opinion": "准予许可"})
    assert open_task(office, no, "issue_result")["group"] == "front_desk"
    done = [(e["element_id"], e["who"]) for e in state(office, no)[0] if e["what"] == "task_completed"]
    assert done[1:] == [("handle", "market1"), ("review", "market2"), ("approve", "market3")]


def test_supervisors_and_administrators_are_held_to_it_too(office):
    # Given 承办 done by the department's supervisor (a supervisor may work the group's tasks)
    no = accepted_food_case(office)
    complete(office, "market_lead", open_task(office, no, "handle"), {"outcome": "submit", "opinion": "同意"})
    review = open_task(office, no, "review")
    # Then the supervisor may not review it, nor hand it to themselves
    refused(office, "market_lead", review, "承办")
    r = Api(office, "director").post(f"/api/tasks/{review['id']}/reassign", json={"to": "market_lead"})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "to"
    # And an administrator is no caseworker at all
    r = Api(office, "admin").post(f"/api/tasks/{review['id']}/claim")
    assert r.status_code == 403
    # While a member who did not handle it may
    complete(office, "market1", review, {"outcome": "pass", "opinion": "同意"})


def test_a_send_back_keeps_the_people_apart(office):
    # Given 审核 sent back to 承办 by market2, and handled again by market1
    no = accepted_food_case(office)
    complete(office, "market1", open_task(office, no, "handle"), {"outcome": "submit", "opinion": "同意"})
    r = Api(office, "market2").post(f"/api/tasks/{open_task(office, no, 'review')['id']}/send-back",
                                    json={"reason": "缺少现场照片"})
    assert r.status_code == 200, r.get_json()
    complete(office, "market1", open_task(office, no, "handle"), {"outcome": "submit", "opinion": "同意"})
    # Then market2, who sent it back from 审核, still may not approve it later; market1 may not review it
    review = open_task(office, no, "review")
    refused(office, "market1", review, "承办")
    complete(office, "market2", review, {"outcome": "pass", "opinion": "同意"})
    refused(office, "market2", open_task(office, no, "approve"), "审核")
