"""Approvals that hold up (issue 12, points 3 and 5), on SQLite and PostgreSQL.

A step writes only what its form declares, never a routing field; 批准 decides with one field; every
level's opinion is a signed record the later levels read, printed on the 审批表; issuance prints the
决定书 and the 送达回证; 受理 waits for the required materials.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from engine import broker, clock
from engine.models import Opinion
from tests.conftest import Api
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    all_food_materials,
    application,
    apply,
    decide,
    notice,
    pdf_text,
    setup_office,
    travel,
)


@pytest.fixture
def office_app(any_app):
    setup_office(any_app)
    travel(MONDAY)
    yield any_app
    clock.set_default(None)


def beijing(day: int, hour: int, minute: int = 0) -> datetime:
    """2026-03-<day> at hour:minute in Beijing, as the UTC instant the clock holds."""
    return datetime(2026, 3, day, hour - 8, minute, tzinfo=UTC)


def case_view(app, case_no: str) -> dict:
    return Api(app, "admin").get(f"/api/cases/{case_no}").get_json()


def open_task(app, case_no: str, element_id: str) -> dict:
    tasks = [t for t in case_view(app, case_no)["open_tasks"] if t["element_id"] == element_id]
    assert len(tasks) == 1, case_view(app, case_no)["open_tasks"]
    return tasks[0]


def complete(app, user: str, case_no: str, element_id: str, data: dict, expect: int = 200) -> dict:
    task = open_task(app, case_no, element_id)
    r = Api(app, user).post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def accepted(app) -> str:
    no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    decide(app, no, {"decision": "accept"})
    return no


def settled(app, case_no: str) -> dict:
    broker.drain()  # the SLA subscribers date tasks after the commit; compare once they are done
    view = case_view(app, case_no)
    return {"data": view["data"], "history": view["history"], "open_tasks": view["open_tasks"],
            "opinions": view["opinions"]}


# --- acceptance 2: only declared fields, never a routing field ------------------------------------


def test_an_undeclared_field_is_422_naming_it_and_the_case_is_unchanged(office_app):
    # Given a food case waiting at 承办 in the market department
    no = accepted(office_app)
    before = settled(office_app, no)
    # When the handler completes it with a field its form does not declare (a reroute)
    body = complete(office_app, "market1", no, "handle", {"outcome": "submit", "opinion": "同意",
                                                          "department": "housing_dept"}, expect=422)
    # Then the answer is a problem naming the field, and nothing in the case changed
    assert body["status"] == 422 and [p["field"] for p in body["problems"]] == ["department"]
    assert settled(office_app, no) == before
    # And every routing field is refused the same way, all named at once
    body = complete(office_app, "market1", no, "handle", {"outcome": "submit", "opinion": "同意", "result": "approved",
                                                          "joint": True, "co_department": "health_dept"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["co_department", "joint", "result"]
    assert settled(office_app, no) == before
    assert open_task(office_app, no, "handle")["group"] == "market_dept"


def test_every_entry_point_passes_the_same_check(office_app):
    # Given a new application at the front desk
    no = apply(office_app, FOOD, materials=all_food_materials())["case_no"]
    problem = "application/problem+json"
    # When the desk's acceptance route carries a field the intake form does not declare
    r = Api(office_app, "window1").post(f"/api/cases/{no}/acceptance", json={"decision": "accept", "approved": True})
    # Then it is refused naming it, as through the worklists API
    assert r.status_code == 422 and r.headers["Content-Type"].startswith(problem)
    assert [p["field"] for p in r.get_json()["problems"]] == ["approved"]
    intake = open_task(office_app, no, "intake")
    r = Api(office_app, "window1").post(f"/api/tasks/{intake['id']}/complete",
                                        json={"data": {"decision": "accept", "category": "medical"}})
    assert r.status_code == 422 and [p["field"] for p in r.get_json()["problems"]] == ["category"]
    assert application(office_app, no)["status"] == "received"
    # And issuance cannot restate the decision: result belongs to 批准
    decide(office_app, no, {"decision": "accept"})
    for element_id, user, data in (("handle", "market1", {"outcome": "submit", "opinion": "符合条件"}),
                                   ("review", "market2", {"outcome": "pass", "opinion": "同意"}),
                                   ("approve", "market_lead", {"outcome": "refused", "opinion": "场所不符合要求"})):
        complete(office_app, user, no, element_id, data)
    r = Api(office_app, "window1").post(f"/api/cases/{no}/issuance", json={"delivery": "pickup", "result": "approved"})
    assert r.status_code == 422 and [p["field"] for p in r.get_json()["problems"]] == ["result"]
    assert case_view(office_app, no)["data"]["result"] == "refused"


def test_co_review_has_a_form_and_is_held_to_it(office_app):
    # Given a joint catering case (the health department co-reviews beside the market department)
    api = Api(office_app, "window1")
    no = api.post("/api/cases", json={"process_id": "one_window", "data": {"category": "catering"}}).get_json()[
        "case_no"]
    complete(office_app, "window1", no, "intake", {"decision": "accept"})
    task = open_task(office_app, no, "co_review")
    # Then 会办 shows its form
    form = Api(office_app, "health1").get(f"/api/tasks/{task['id']}").get_json()["form"]
    assert form["schema"]["title"] == "会办" and set(form["schema"]["properties"]) == {"outcome", "opinion"}
    # And refuses what it does not declare (the old co_opinion, the decision) and an unsigned completion
    body = complete(office_app, "health1", no, "co_review",
                    {"outcome": "agree", "co_opinion": "x", "result": "refused"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["co_opinion", "result"]
    body = complete(office_app, "health1", no, "co_review", {"outcome": "agree"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["opinion"]
    complete(office_app, "health1", no, "co_review", {"outcome": "agree", "opinion": "卫生条件符合要求"})
    assert [o["step"] for o in case_view(office_app, no)["opinions"]] == ["intake", "co_review"]


# --- acceptance 4: opinions signed, read by later levels, printed ---------------------------------


def test_the_approver_reads_both_earlier_opinions_and_the_papers_print_them(office_app):
    # Given a food case accepted at the window on Monday 10:00
    no = accepted(office_app)
    # When 承办, 审核 sign their opinions, each a different person at a different time
    travel(beijing(3, 9, 30))
    complete(office_app, "market1", no, "handle",
             {"outcome": "submit", "opinion": "经现场核查，经营场所不符合要求，建议不予许可"})
    travel(beijing(3, 15, 5))
    complete(office_app, "market2", no, "review", {"outcome": "pass", "opinion": "同意承办意见"})
    # Then the 批准 task shows both earlier opinions, with signer, step and time (office zone)
    travel(beijing(4, 10, 15))
    approve = open_task(office_app, no, "approve")
    lead = Api(office_app, "market_lead")
    earlier = lead.get(f"/api/tasks/{approve['id']}").get_json()["opinions"]
    assert [(o["step"], o["signer"], o["decision_label"], o["text"]) for o in earlier] == [
        ("intake", "window1", "受理", "申请材料齐全、符合法定形式，予以受理。"),
        ("handle", "market1", "提交审核", "经现场核查，经营场所不符合要求，建议不予许可"),
        ("review", "market2", "通过", "同意承办意见"),
    ]
    assert earlier[1]["signed_at"] == beijing(3, 9, 30).isoformat() and earlier[1]["signer_group"] == "market_dept"
    page = lead.get(f"/tasks/{approve['id']}").get_data(as_text=True)
    assert "前序审批意见" in page and "同意承办意见" in page
    assert "2026-03-03 09:30" in page and "2026-03-03 15:05" in page
    # When 批准 refuses with its reasons
    complete(office_app, "market_lead", no, "approve", {"outcome": "refused", "opinion": "经营场所未达到食品安全要求"})
    # Then the case's decision is that one field, and the 审批表 lists all levels with signer and time
    view = case_view(office_app, no)
    assert view["data"]["result"] == "refused" and "opinion" not in view["data"]
    r = notice(office_app, no, "approval_form", "pdf", user="market1")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    for signer, when, words in (("market1", "2026年3月3日09:30", "建议不予许可"),
                                ("market2", "2026年3月3日15:05", "同意承办意见"),
                                ("market_lead", "2026年3月4日10:15", "经营场所未达到食品安全要求")):
        assert signer in text and when in text and words in text
    assert "行政许可审批表" in text and "食品经营许可（新办）" in text and no in text
    # When the window issues the result
    travel(beijing(5, 9, 0))
    r = Api(office_app, "window1").post(f"/api/cases/{no}/issuance", json={"delivery": "pickup"})
    assert r.status_code == 200, r.get_json()
    links = r.get_json()["notices"]
    # Then the 不予许可决定书 gives the reasons and both rights, and the 送达回证 records the delivery
    decision = pdf_text(Api(office_app, "window1").get(links["decision"]).data)
    assert "不予行政许可决定书" in decision and "经营场所未达到食品安全要求" in decision
    assert "60日内" in decision and "行政复议" in decision and "6个月内" in decision and "行政诉讼" in decision
    receipt = pdf_text(Api(office_app, "window1").get(links["delivery_receipt"]).data)
    assert "送达回证" in receipt and "不予行政许可决定书" in receipt and "2026年3月5日09:00" in receipt
    assert "直接送达" in receipt and "受送达人" in receipt
    # And the case pages and the history show the opinions too
    page = Api(office_app, "market1").get(f"/cases/{no}").get_data(as_text=True)
    assert "审批意见" in page and "经营场所未达到食品安全要求" in page and "〔不予许可〕" in page
    desk = Api(office_app, "window1").get(f"/window/cases/{no}").get_data(as_text=True)
    assert 'id="opinions"' in desk and "同意承办意见" in desk
    done = [e for e in view["history"] if e["what"] == "task_completed" and e["element_id"] == "approve"]
    assert done[0]["data"]["opinion"] == {"text": "经营场所未达到食品安全要求", "decision": "refused",
                                          "decision_label": "不予许可"}


def test_an_approval_decision_and_its_certificate(office_app):
    no = accepted(office_app)
    for element_id, user, data in (("handle", "market1", {"outcome": "submit", "opinion": "符合条件，建议准予许可"}),
                                   ("review", "market2", {"outcome": "pass", "opinion": "同意"}),
                                   ("approve", "market_lead", {"outcome": "approved", "opinion": "同意，准予许可"})):
        complete(office_app, user, no, element_id, data)
    r = Api(office_app, "window1").post(f"/api/cases/{no}/issuance", json={
        "delivery": "post", "certificate_no": "JY11101050000001", "tracking_no": "SF1234567890"})
    assert r.status_code == 200, r.get_json()
    decision = pdf_text(notice(office_app, no, "decision", "pdf").data)
    assert "准予行政许可决定书" in decision and "JY11101050000001" in decision and "第三十八条第一款" in decision
    assert "行政复议" not in decision
    receipt = pdf_text(notice(office_app, no, "delivery_receipt", "pdf").data)
    assert "邮寄送达" in receipt and "SF1234567890" in receipt and "JY11101050000001" in receipt


def test_a_send_back_is_signed_with_its_reason_and_opinions_are_never_overwritten(office_app):
    no = accepted(office_app)
    complete(office_app, "market1", no, "handle", {"outcome": "submit", "opinion": "初审同意"})
    review = open_task(office_app, no, "review")
    r = Api(office_app, "market2").post(f"/api/tasks/{review['id']}/send-back", json={"reason": "缺少现场照片"})
    assert r.status_code == 200, r.get_json()
    complete(office_app, "market1", no, "handle", {"outcome": "submit", "opinion": "已补现场照片，同意"})
    signed = [(o["step"], o["kind"], o["decision"], o["text"]) for o in case_view(office_app, no)["opinions"]]
    assert signed[1:] == [("handle", "completed", "submit", "初审同意"),
                          ("review", "sent_back", "send_back", "缺少现场照片"),
                          ("handle", "completed", "submit", "已补现场照片，同意")]
    # The database itself refuses to change or remove a signed opinion
    db = office_app.extensions["onewindow.db"]
    for statement in (update(Opinion).values(text="改过的意见"), delete(Opinion)):
        with pytest.raises(Exception, match="append-only"), db.unit_of_work() as uow:
            uow.session.execute(statement)
    with db.read() as s:
        assert s.scalars(select(Opinion.text).order_by(Opinion.id)).all()[1] == "初审同意"


def test_papers_of_the_review_are_for_those_involved_only(office_app):
    no = accepted(office_app)
    complete(office_app, "market1", no, "handle", {"outcome": "submit", "opinion": "同意"})
    assert notice(office_app, no, "approval_form", "pdf", user="market2").status_code == 200
    assert notice(office_app, no, "approval_form", "html", user="window1").status_code == 200
    # another department's caseworker is told no more than for a number that does not exist
    r = notice(office_app, no, "approval_form", "pdf", user="health1")
    unknown = notice(office_app, "OW20260302999", "approval_form", "pdf", user="health1")
    assert r.status_code == unknown.status_code == 404
    assert r.get_json()["detail"] == unknown.get_json()["detail"].replace("OW20260302999", no)


# --- 受理 waits for the required materials --------------------------------------------------------


def test_acceptance_is_refused_while_a_required_material_is_missing(office_app):
    # Given an application that brought only the application form
    no = apply(office_app, FOOD, materials=[{"code": "application_form"}])["case_no"]
    # When the desk tries to accept it
    body = decide(office_app, no, {"decision": "accept"}, expect=422)
    # Then each missing required material is named (not the conditional power of attorney), nothing moves
    assert [p["field"] for p in body["problems"]] == [
        "materials.business_licence", "materials.id_card", "materials.premises", "materials.layout",
        "materials.safety_rules", "materials.safety_manager"]
    assert "补正" in body["problems"][0]["message"]
    view = application(office_app, no)
    assert view["status"] == "received" and "acceptance" not in view["notices"] and view["opinions"] == []
