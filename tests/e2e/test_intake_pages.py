"""The front-desk pages over HTTP (server-rendered forms): register, decide, issue, look up; personal
data whole only for those who handle the case."""

from __future__ import annotations

import io
import re

import pytest

from engine import clock
from tests.conftest import Api, Browser
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    ORG_ID,
    PDF,
    PERSON_ID,
    SOLE_TRADER,
    application,
    apply,
    approve_in_back_office,
    setup_office,
    travel,
)


@pytest.fixture
def office_app(sqlite_app):
    setup_office(sqlite_app)
    travel(MONDAY)
    yield sqlite_app
    clock.set_default(None)


def browser(app, username: str) -> Browser:
    client = Browser(app)
    r = client.login(username)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def test_pages_need_a_login(office_app):
    r = office_app.test_client().get("/window/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_register_decide_and_issue_through_the_pages(office_app):
    desk = browser(office_app, "window1")
    home = desk.get("/window/")
    assert home.status_code == 200 and FOOD in home.get_data(as_text=True)
    form = desk.get(f"/window/apply?service={FOOD}")
    assert "食品经营许可申请书" in form.get_data(as_text=True)
    r = desk.post("/window/apply", content_type="multipart/form-data", data={
        "service_code": FOOD, "channel": "window", "applicant.kind": "organization",
        "applicant.id_number": ORG_ID, "applicant.name": "示范餐饮管理有限公司", "applicant.phone": "13800138000",
        "material": ["application_form", "id_card", "premises", "layout", "safety_rules", "safety_manager"],
        "file.business_licence": (io.BytesIO(PDF + b"licence"), "licence.pdf")})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    case_no = re.search(r"/window/cases/(OW\d+)", r.headers["Location"]).group(1)
    page = desk.get(f"/window/cases/{case_no}?registered=1").get_data(as_text=True)
    assert "已登记" in page and ORG_ID in page and "13800138000" in page
    # a refused decision shows the problem and changes nothing
    r = desk.post(f"/window/cases/{case_no}/acceptance", data={"decision": "reject"})
    assert r.status_code == 422 and "reason" in r.get_data(as_text=True)
    assert application(office_app, case_no)["status"] == "received"
    r = desk.post(f"/window/cases/{case_no}/acceptance", data={"decision": "accept"})
    assert r.status_code == 302
    assert application(office_app, case_no)["status"] == "accepted"
    approve_in_back_office(office_app, case_no)
    page = desk.get(f"/window/cases/{case_no}").get_data(as_text=True)
    assert 'id="issuance"' in page
    r = desk.post(f"/window/cases/{case_no}/issuance", data={"delivery": "post", "certificate_no": "JY1"})
    assert r.status_code == 422 and "tracking_no" in r.get_data(as_text=True)
    r = desk.post(f"/window/cases/{case_no}/issuance", data={
        "delivery": "pickup", "certificate_no": "JY11101050000001",
        "handed_over_at": "2026-03-02T09:30"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert application(office_app, case_no)["status"] == "completed"
    # lookup finds it; an unknown number says so
    assert desk.get(f"/window/lookup?case_no={case_no}").status_code == 302
    assert desk.get("/window/lookup?case_no=OW1").status_code == 404


def test_lists_mask_and_only_handlers_see_the_whole_number(office_app):
    no = apply(office_app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明",
               phone="13912345678")["case_no"]
    home = browser(office_app, "window1").get("/window/").get_data(as_text=True)
    assert PERSON_ID not in home and "13912345678" not in home and no in home
    # the window's pages are the front desk's: a department not (yet) on the case learns nothing
    outsider = browser(office_app, "health1").get(f"/window/cases/{no}")
    assert outsider.status_code == 404 and PERSON_ID not in outsider.get_data(as_text=True)
    assert browser(office_app, "market1").get(f"/window/cases/{no}").status_code == 404
    handler = browser(office_app, "window2").get(f"/window/cases/{no}").get_data(as_text=True)
    assert PERSON_ID in handler


def test_the_applicants_page_shows_progress_and_takes_a_rating(office_app):
    no = apply(office_app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明",
               phone="13912345678")["case_no"]
    anon = Browser(office_app)
    page = anon.get(f"/public/cases?case_no={no}&id_tail={PERSON_ID[-4:]}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "已收件，待受理" in text and "受理审查" in text
    assert "王小明" not in text and PERSON_ID not in text and 'id="rating"' not in text
    assert anon.get(f"/public/cases?case_no={no}&id_tail=0000").status_code == 404
    desk = browser(office_app, "window1")
    desk.post(f"/window/cases/{no}/acceptance", data={"decision": "reject", "reason": "不属于本中心受理范围"})
    page = anon.get(f"/public/cases?case_no={no}&id_tail={PERSON_ID[-4:]}").get_data(as_text=True)
    assert "不予受理" in page and 'id="rating"' in page
    r = anon.post(f"/public/cases/{no}/rating", data={"id_tail": PERSON_ID[-4:], "grade": "very_dissatisfied",
                                                      "comment": "没有说明去哪里办"})
    assert r.status_code == 200 and "回访" in r.get_data(as_text=True)
    r = anon.post(f"/public/cases/{no}/rating", data={"id_tail": PERSON_ID[-4:], "grade": "satisfied"})
    assert r.status_code == 422 and "已评价" in r.get_data(as_text=True)
    # the sole-trader item belongs to market_dept: its supervisor has the follow-up
    queue = Api(office_app, "market_lead").get("/api/tasks?view=queue").get_json()["items"]
    assert any(t["element_id"] == "follow_up" for t in queue)
