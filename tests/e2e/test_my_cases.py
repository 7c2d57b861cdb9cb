"""My cases (我的办件): a signed-in applicant sees every case held under their number, online or at the
window, with its timeline, due date, notices, files, what the office asks of them and the rating, once
(issue 16, point 5). Sessions are opened directly here; the sign-in itself is test_online_sign_in's."""

from __future__ import annotations

import re

import pytest

from engine import applicants, clock
from engine.applicants import OnlineApplicant, Organization
from tests.conftest import Browser
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    ORG_ID,
    PDF,
    PERSON_ID,
    SOLE_TRADER,
    all_food_materials,
    apply,
    approve_in_back_office,
    complete_open,
    decide,
    file,
    pdf_text,
    setup_office,
    travel,
)

REPRESENTATIVE = OnlineApplicant("idp", "rep", "110102198001010017", "张伟", "13800138000",
                                 (Organization(ORG_ID, "示范餐饮管理有限公司", "legal_representative"),), ORG_ID)
PERSON = OnlineApplicant("idp", "wang", PERSON_ID, "王小明", "13912345678")


@pytest.fixture
def office(sqlite_app):
    travel(MONDAY)
    setup_office(sqlite_app)
    yield sqlite_app
    travel(None)


def signed_in(app, who: OnlineApplicant) -> Browser:
    browser = Browser(app)
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        token = applicants.open_session(uow.session, who, clock.now())
    with browser.client.session_transaction() as session:
        session["applicant"] = token
    return browser


def cases_on(page: str) -> list[str]:
    return re.findall(r'data-case="([^"]+)"', page)


def test_the_list_holds_every_case_under_the_number_acted_under(office):
    # Given two cases of the organisation (at the window) and one of a person
    first = apply(office, FOOD, materials=all_food_materials())["case_no"]
    second = apply(office, FOOD, materials=[])["case_no"]
    own = apply(office, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明", materials=[])["case_no"]
    # When the organisation's representative and the person open my cases
    org_page = signed_in(office, REPRESENTATIVE).get("/online/cases").get_data(as_text=True)
    person_page = signed_in(office, PERSON).get("/online/cases").get_data(as_text=True)
    # Then each sees what is held under their number, newest first, and nothing else
    assert cases_on(org_page) == [second, first] and cases_on(person_page) == [own]
    assert "承诺办结" in org_page and "窗口申请" in org_page
    assert "示范餐饮管理有限公司 名下" in org_page and "王小明 名下" in person_page
    # And an organisation the identity service named by its code alone is named as the window registered it
    code_only = OnlineApplicant("idp", "agent", "110105198503150027", "赵敏", "", (Organization(ORG_ID, ORG_ID),),
                                ORG_ID)
    page = signed_in(office, code_only).get("/online/cases").get_data(as_text=True)
    assert f"示范餐饮管理有限公司（{ORG_ID}） 名下" in page


def test_a_correction_shows_what_the_office_asks_with_its_notice(office):
    # Given a case the window sent back for 补正, listing everything missing in one notice
    given = [m for m in all_food_materials() if m["code"] not in ("business_licence", "premises")]
    case_no = apply(office, FOOD, materials=given)["case_no"]
    decide(office, case_no, {"decision": "correction", "missing": ["business_licence", "premises"],
                             "reason": "材料不全"})
    browser = signed_in(office, REPRESENTATIVE)
    # When the representative opens the case
    page = browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    # Then it says what is missing and by when, and the timeline says so too
    ask = page.split('id="correction"')[1].split("</section>")[0]
    assert "营业执照" in ask and "经营场所" in ask and "材料不全" in ask and 'id="correction-due"' in ask
    assert "需要补正材料" in page.split('id="timeline"')[1] and 'data-status="correction"' in page
    assert "请补正材料" in browser.get("/online/cases").get_data(as_text=True)
    # And the correction notice downloads, with the ID number masked
    r = browser.get(f"/online/cases/{case_no}/notices/correction.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.get_data())
    assert "补正材料通知书" in text and ORG_ID not in text and ORG_ID[-4:] in text
    # A notice the case does not have yet, and a paper that stays with the office, are not found
    assert browser.get(f"/online/cases/{case_no}/notices/decision.pdf").status_code == 404
    assert browser.get(f"/online/cases/{case_no}/notices/approval_form.html").status_code == 404


def test_their_own_files_download(office):
    # Given a case with a file the applicant gave
    content = PDF + b"the form"
    case_no = apply(office, FOOD, materials=[{"code": "application_form", "file": file("申请书.pdf", content)}])[
        "case_no"]
    browser = signed_in(office, REPRESENTATIVE)
    page = browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    link = re.search(r'href="(/online/cases/[^"]+/materials/\d+)"', page).group(1)
    # When they download it
    r = browser.get(link)
    # Then they get the very bytes, under their file's name
    assert r.status_code == 200 and r.get_data() == content
    assert "attachment" in r.headers["Content-Disposition"]


def test_a_closed_case_is_rated_once(office):
    # Given a case refused at intake (the case has closed)
    case_no = apply(office, FOOD, materials=all_food_materials())["case_no"]
    decide(office, case_no, {"decision": "reject", "reason": "不属于本机关职权范围",
                             "redirect_office": "市卫生健康委员会"})
    browser = signed_in(office, REPRESENTATIVE)
    page = browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    assert "不予受理" in page and "不属于本机关职权范围" in page and 'data-notice="refusal"' in page
    # When they rate it
    r = browser.post(f"/online/cases/{case_no}/rating", data={"grade": "satisfied", "comment": "说明清楚"})
    # Then the rating is recorded and shown, and the form is gone
    assert r.status_code == 302
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="rating-done"' in page and "满意：说明清楚" in page and 'id="rating"' not in page
    # And a second rating is refused, the first kept
    again = browser.post(f"/online/cases/{case_no}/rating", data={"grade": "very_dissatisfied"})
    assert again.status_code == 409 and "已评价" in again.get_data(as_text=True)
    assert "满意：说明清楚" in browser.get(f"/online/cases/{case_no}").get_data(as_text=True)


def test_an_approved_case_shows_its_decision_and_due_date_on_the_timeline(office):
    # Given a case accepted, approved in the back office and issued at the window
    case_no = apply(office, FOOD, materials=all_food_materials())["case_no"]
    decide(office, case_no, {"decision": "accept"})
    browser = signed_in(office, REPRESENTATIVE)
    running = browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    assert 'id="due-date"' in running and "已受理" in running
    approve_in_back_office(office, case_no)
    complete_open(office, case_no, "issue_result", {"certificate_no": "JY11001", "delivery": "pickup"})
    # When the applicant opens it
    page = browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    timeline = page.split('id="timeline"')[1].split("</section>")[0]
    # Then the timeline tells the story in order, naming no one inside the office
    steps = re.findall(r"<strong>([^<]+)</strong>", timeline)
    assert steps[0].startswith("已收件") and steps[1:] == ["已受理", "准予许可", "已在窗口出件"], steps
    assert "market" not in timeline and "window1" not in timeline
    # And the decision can be downloaded
    assert 'data-notice="decision"' in page
    r = browser.get(f"/online/cases/{case_no}/notices/decision.pdf")
    assert r.status_code == 200 and "准予行政许可决定书" in pdf_text(r.get_data())


def applicant_sessions(app) -> int:
    from sqlalchemy import func, select

    from engine.models import ApplicantSession

    with app.extensions["onewindow.db"].read() as s:
        return s.scalar(select(func.count()).select_from(ApplicantSession))


def test_applicant_sessions_follow_the_staffs_rules(office):
    from datetime import timedelta

    # Given an applicant signed in, with a closed case to rate
    case_no = apply(office, FOOD, materials=all_food_materials())["case_no"]
    decide(office, case_no, {"decision": "reject", "reason": "不属于本机关职权范围"})
    browser = signed_in(office, REPRESENTATIVE)
    assert browser.get(f"/online/cases/{case_no}").status_code == 200
    # When a form is posted without the page's CSRF token, or from another site
    bare = browser.client.post(f"/online/cases/{case_no}/rating", data={"grade": "satisfied"})
    elsewhere = browser.post(f"/online/cases/{case_no}/rating", data={"grade": "satisfied"},
                             headers={"Origin": "http://evil.example"})
    # Then nothing is rated
    assert bare.status_code == 400 and elsewhere.status_code == 403
    assert 'id="rating"' in browser.get(f"/online/cases/{case_no}").get_data(as_text=True)
    # When the session is left idle past the staff's time-out
    travel(MONDAY + timedelta(minutes=31))
    r = browser.get("/online/cases")
    # Then it has ended on the server: the next page asks to sign in again, and says why
    assert r.status_code == 302 and "/online/sign-in" in r.headers["Location"]
    assert applicant_sessions(office) == 0
    # And a staff sign-in in the same browser ends an applicant's session too
    other = signed_in(office, PERSON)
    assert applicant_sessions(office) == 1
    other.login("window1")
    assert applicant_sessions(office) == 0 and other.get("/online/cases").status_code == 302
