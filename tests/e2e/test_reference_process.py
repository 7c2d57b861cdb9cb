"""The reference process, every path, end to end through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import Api, deploy_reference, member_for


@pytest.fixture
def office(any_app):
    deploy_reference(any_app)
    return any_app


def start(app, category: str) -> tuple[Api, str]:
    api = Api(app, "window1")
    r = api.post("/api/cases", json={"process_id": "one_window",
                                     "data": {"category": category, "applicant_name": "示范餐饮店"}})
    assert r.status_code == 201, r.get_json()
    return api, r.get_json()["case_no"]


def case(api: Api, case_no: str) -> dict:
    r = api.get(f"/api/cases/{case_no}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def open_task(api: Api, case_no: str, element_id: str) -> dict:
    tasks = [t for t in case(api, case_no)["open_tasks"] if t["element_id"] == element_id]
    assert len(tasks) == 1, (element_id, case(api, case_no)["open_tasks"])
    return tasks[0]


def do(app, case_no: str, element_id: str, data: dict) -> dict:
    """Complete the open task ``element_id`` as a member of its group (承办, 审核, 批准: three different
    ones); returns the task row."""
    reader = Api(app, "admin")
    task = open_task(reader, case_no, element_id)
    worker = Api(app, member_for(task["group"], element_id))
    r = worker.post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    return task


def history_kinds(api: Api, case_no: str) -> list[tuple[str, str | None]]:
    return [(e["what"], e["element_id"]) for e in case(api, case_no)["history"]]


def test_accept_single_department_approve_and_issue(office):
    # Given a food application at the front desk
    api, no = start(office, "food")
    assert open_task(api, no, "intake")["group"] == "front_desk"
    # When the desk accepts and the market department handles, reviews, approves
    do(office, no, "intake", {"decision": "accept"})
    assert open_task(api, no, "handle")["group"] == "market_dept"
    do(office, no, "handle", {"outcome": "submit", "opinion": "材料齐全，建议准予许可"})
    do(office, no, "review", {"outcome": "pass", "opinion": "同意"})
    do(office, no, "approve", {"outcome": "approved", "opinion": "准予许可"})
    # Then the result is issued at the window and the case ends
    assert open_task(api, no, "issue_result")["group"] == "front_desk"
    do(office, no, "issue_result", {"delivery": "pickup", "certificate_no": "JY13101050000001"})
    view = case(api, no)
    assert view["status"] == "completed"
    assert view["open_tasks"] == []
    assert view["data"]["department"] == "market_dept"
    assert view["data"]["certificate_no"] == "JY13101050000001"
    assert view["data"]["result"] == "approved" and "opinion" not in view["data"]
    assert [(o["step"], o["decision"], o["text"]) for o in view["opinions"]] == [
        ("intake", "accept", ""), ("handle", "submit", "材料齐全，建议准予许可"), ("review", "pass", "同意"),
        ("approve", "approved", "准予许可")]
    kinds = history_kinds(api, no)
    assert ("case_started", None) in kinds and kinds[-1][0] == "case_ended"
    completed = [e for e in kinds if e[0] == "task_completed"]
    assert [e[1] for e in completed] == ["intake", "handle", "review", "approve", "issue_result"]


def test_joint_path_two_departments_in_parallel(office):
    api, no = start(office, "catering")
    do(office, no, "intake", {"decision": "accept"})
    open_ids = {t["element_id"]: t["group"] for t in case(api, no)["open_tasks"]}
    assert open_ids == {"handle": "market_dept", "co_review": "health_dept"}
    do(office, no, "co_review", {"outcome": "agree", "opinion": "卫生条件符合要求"})
    assert {t["element_id"] for t in case(api, no)["open_tasks"]} == {"handle"}
    do(office, no, "handle", {"outcome": "submit", "opinion": "同意"})
    do(office, no, "review", {"outcome": "pass", "opinion": "同意"})
    do(office, no, "approve", {"outcome": "approved", "opinion": "同意，准予许可"})
    do(office, no, "issue_result", {"delivery": "post", "tracking_no": "SF1234567890"})
    view = case(api, no)
    assert view["status"] == "completed"
    assert view["data"]["co_department"] == "health_dept" and view["data"]["result"] == "approved"
    co = [o for o in view["opinions"] if o["step"] == "co_review"]
    assert [(o["signer"], o["signer_group"], o["decision_label"], o["text"]) for o in co] == [
        ("health1", "health_dept", "同意", "卫生条件符合要求")]


def test_refused_at_intake(office):
    api, no = start(office, "food")
    do(office, no, "intake", {"decision": "reject", "reason": "不属于本中心受理范围"})
    view = case(api, no)
    assert view["status"] == "completed"
    assert view["open_tasks"] == []
    assert history_kinds(api, no)[-1][0] == "case_ended"


def test_correction_then_resubmission_then_accept(office):
    api, no = start(office, "medical")
    do(office, no, "intake", {"decision": "correction", "missing": ["lease"]})
    view = case(api, no)
    assert view["open_tasks"] == [] and "await_correction" in view["waiting_for"]
    # a message the case does not wait for is a conflict, nothing changes
    r = api.post(f"/api/cases/{no}/messages/materials_supplemented", json={"payload": {}})
    assert r.status_code == 409
    r = api.post(f"/api/cases/{no}/messages/materials_resubmitted", json={"payload": {"materials": ["lease"]}})
    assert r.status_code == 200, r.get_json()
    assert open_task(api, no, "intake")["group"] == "front_desk"
    do(office, no, "intake", {"decision": "accept"})
    assert open_task(api, no, "handle")["group"] == "health_dept"


def test_send_back_from_review_and_from_approve(office):
    api, no = start(office, "construction")
    do(office, no, "intake", {"decision": "accept"})
    do(office, no, "handle", {"outcome": "submit", "opinion": "提交"})
    do(office, no, "review", {"outcome": "send_back", "opinion": "图纸缺页"})
    do(office, no, "handle", {"outcome": "submit", "opinion": "已补图纸"})
    do(office, no, "review", {"outcome": "pass", "opinion": "同意"})
    do(office, no, "approve", {"outcome": "send_back", "opinion": "请核实面积"})
    do(office, no, "review", {"outcome": "pass", "opinion": "已核实"})
    do(office, no, "approve", {"outcome": "refused", "opinion": "建筑面积不符合要求"})
    do(office, no, "issue_result", {"delivery": "pickup"})
    view = case(api, no)
    assert view["status"] == "completed" and view["data"]["result"] == "refused"
    completed = [e[1] for e in history_kinds(api, no) if e[0] == "task_completed"]
    assert completed == ["intake", "handle", "review", "handle", "review", "approve", "review", "approve",
                         "issue_result"]


def test_request_supplement_pauses_until_message(office):
    api, no = start(office, "business")
    do(office, no, "intake", {"decision": "accept"})
    do(office, no, "handle", {"outcome": "request_materials", "opinion": "请补充场所证明"})
    assert "await_supplement" in case(api, no)["waiting_for"]
    r = api.post(f"/api/cases/{no}/messages/materials_supplemented", json={"payload": {}})
    assert r.status_code == 200
    assert open_task(api, no, "handle")["group"] == "market_dept"


def test_unknown_category_goes_to_general_department(office):
    api, no = start(office, "something_else")
    do(office, no, "intake", {"decision": "accept"})
    assert open_task(api, no, "handle")["group"] == "general_dept"


def test_correction_not_resubmitted_within_60_days_is_withdrawn(office):
    from datetime import timedelta

    from engine import clock
    from engine.scheduler import tick

    api, no = start(office, "food")
    do(office, no, "intake", {"decision": "correction", "missing": ["lease"]})
    db = office.extensions["onewindow.db"]
    t0 = clock.now()
    assert tick(db, t0 + timedelta(days=59)).timers_fired == []
    report = tick(db, t0 + timedelta(days=60, minutes=1))
    assert report.timers_fired == [(no, report.timers_fired[0][1])]
    view = case(api, no)
    assert view["status"] == "completed"
    assert ("timer_fired", report.timers_fired[0][1]) in history_kinds(api, no)


def test_a_decision_no_flow_accepts_changes_nothing(office):
    # Given an open intake task
    from engine import broker

    api, no = start(office, "food")
    broker.drain()  # let the SLA subscribers settle the due dates before the snapshot
    before = case(api, no)
    task = open_task(api, no, "intake")
    # When the desk sends a decision its form does not offer
    r = Api(office, "window1").post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "acept"}})
    # Then it is refused with a problem naming the field, and the case is exactly as it was
    assert r.status_code == 422
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert [p["field"] for p in r.get_json()["problems"]] == ["decision"]
    broker.drain()
    after = case(api, no)
    assert after["history"] == before["history"] and after["open_tasks"] == before["open_tasks"]


def test_bad_requests_get_problem_details(office):
    api = Api(office, "window1")
    assert api.post("/api/cases", json={"process_id": "nope", "data": {}}).status_code == 404
    r = api.post("/api/cases", json={"data": {}})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "process_id"
    r = api.post("/api/cases", json={"process_id": "one_window", "data": {"__class__": 1}})
    assert r.status_code == 422
    r = api.client.post("/api/cases", data="not json", headers={**api.headers, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert Api(office).get("/api/me").status_code == 401
    assert api.get("/api/cases/OW000").status_code == 404
    assert api.post("/api/tasks/00000000-0000-0000-0000-000000000000/complete", json={"data": {}}).status_code == 404


def test_other_groups_task_is_forbidden_and_double_complete_conflicts(office):
    api, no = start(office, "food")
    task = open_task(api, no, "intake")
    # a department the case has not reached yet does not even learn that it exists
    r = Api(office, "market1").post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert r.status_code == 404
    desk = Api(office, "window1")
    assert desk.post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}}).status_code == 200
    again = Api(office, "window2").post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert again.status_code == 409 and again.get_json()["holder"] == "window1"
    # the front desk reads the case, but the department's step is not theirs to complete
    handle = open_task(api, no, "handle")
    r = desk.post(f"/api/tasks/{handle['id']}/complete", json={"data": {"outcome": "submit"}})
    assert r.status_code == 403 and "market_dept" in r.get_json()["detail"]


def test_openapi_document_lists_the_routes(office):
    doc = Api(office).get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/auth/token", "/api/definitions", "/api/cases", "/api/cases/{case_no}",
                 "/api/cases/{case_no}/messages/{name}", "/api/tasks", "/api/tasks/{task_id}/complete"):
        assert path in doc["paths"], path
