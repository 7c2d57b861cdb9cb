"""The front desk in headless Chromium: register an application from the catalog's checklist,
see reusable materials on file, accept it, print the acceptance notice."""

from __future__ import annotations

import re

import pytest

from tests.e2e.intake_helpers import FOOD, FOOD_CHANGE, ORG_ID, pdf_text, setup_office

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(live_server):
    setup_office(live_server.app)
    return live_server


def test_register_accept_and_print_the_notice(desk, page, tmp_path):
    lease = tmp_path / "lease.pdf"
    lease.write_bytes(b"%PDF-1.4\n% lease\n%%EOF\n")
    licence = tmp_path / "licence.pdf"
    licence.write_bytes(b"%PDF-1.4\n% business licence\n%%EOF\n")
    # Given the front desk clerk logged in
    desk.login(page, "window1")
    assert page.url.rstrip("/").endswith("/window")
    # When she picks the food licence from the catalog and fills the application
    page.click(f"a[data-service='{FOOD}']")
    assert page.locator("#checklist tr[data-material]").count() == 8
    page.select_option("#kind", "organization")
    page.fill("#id_number", ORG_ID)
    page.fill("#name", "示范餐饮管理有限公司")
    page.fill("#phone", "13800138000")
    for code in ("application_form", "id_card", "layout", "safety_rules", "safety_manager"):
        page.check(f"#m_{code}")
    page.set_input_files("input[name='file.premises']", str(lease))
    page.set_input_files("input[name='file.business_licence']", str(licence))
    page.click("#register")
    # Then the case is registered and the receipt can be printed
    page.wait_for_selector("#registered")
    case_no = page.inner_text("#case-no").strip()
    assert re.fullmatch(r"OW\d{15}", case_no)
    assert page.get_attribute("#status", "data-status") == "received"
    assert page.locator("a[data-notice='receipt']").count() == 1
    # When she accepts the application
    page.check("input[name=decision][value=accept]")
    page.click("#decide")
    page.wait_for_selector("a[data-notice='acceptance']")
    assert page.get_attribute("#status", "data-status") == "accepted"
    # Then the acceptance notice prints with the case number and the promised date
    href = page.get_attribute("a[data-notice='acceptance']", "href")
    page.goto(desk.url + href)
    body = page.inner_text("body")
    assert "受理通知书" in body and case_no in body
    page.emulate_media(media="print")
    printed = pdf_text(page.pdf(format="A4"))
    assert case_no in printed and "受理通知书" in printed.replace(" ", "")
    # And a second application of the same organization shows the licence on file, not asked again
    page.goto(f"{desk.url}/window/apply?service={FOOD_CHANGE}&kind=organization&id_number={ORG_ID}")
    reused = page.locator("#checklist tr[data-material='business_licence'] .reused")
    assert reused.count() == 1 and case_no in reused.inner_text()
    assert page.locator("#checklist tr[data-material='change_form'] input[type=checkbox]").count() == 1


def test_lookup_and_bad_input_show_the_problem(desk, page):
    desk.login(page, "window1")
    page.fill("#case_no", "OW000")
    page.click("#lookup button")
    assert "未找到" in page.inner_text("body")
    page.goto(f"{desk.url}/window/apply?service={FOOD}")
    page.select_option("#kind", "person")
    page.fill("#id_number", "110101199003071234")
    page.fill("#name", "张三")
    page.fill("#phone", "13800138000")
    page.click("#register")
    body = page.inner_text("body")
    assert "applicant.id_number" in body and "校验位" in body
