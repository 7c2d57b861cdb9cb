"""An applicant signs in on a phone through `onewindow dev-idp` running as its own process, chooses the
organisation they represent, finds its case in my cases and signs out; a test identity whose ID number
fails its check is refused with a page saying so (issue 16, points 1 and 5, on a 375 x 667 screen)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import make_app
from tests.e2e.intake_helpers import FOOD, MONDAY, all_food_materials, apply, decide, setup_office, travel
from tests.oidc_issuer import dev_idp_process, free_port

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}


@pytest.fixture
def idp_port() -> int:
    return free_port()


@pytest.fixture
def browser_app(tmp_path, sqlite_template, idp_port):
    """The office with one case of 示范餐饮管理有限公司 at 承办, its identity service the dev-idp's port."""
    shutil.copy(sqlite_template, tmp_path / "onewindow.db")
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'onewindow.db'}", oidc_issuer=f"http://127.0.0.1:{idp_port}",
                   oidc_client_id="onewindow-dev", oidc_client_secret="onewindow-dev-secret")
    travel(MONDAY)
    setup_office(app)
    case_no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    decide(app, case_no, {"decision": "accept"})
    app.config["TEST_CASE_NO"] = case_no
    yield app
    travel(None)
    app.extensions["onewindow.db"].dispose()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_applicant_signs_in_through_the_dev_idp_on_a_phone(browser, live_server, idp_port):
    case_no = live_server.app.config["TEST_CASE_NO"]
    with dev_idp_process(f"{live_server.url}/online/callback", port=idp_port):
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=PHONE)
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            # Given the applicants' page
            page.goto(f"{live_server.url}/online/")
            assert no_horizontal_scroll(page)
            # When 张伟 signs in through the identity service and acts for the company he represents
            page.click("#sign-in")
            page.wait_for_url(f"http://127.0.0.1:{idp_port}/authorize*")
            page.click("button[data-identity=zhang]")
            page.wait_for_url("**/online/acting-for*")
            assert no_horizontal_scroll(page)
            page.check("input[value='91350100M000100Y43']")
            page.click("#acting-for button[type=submit]")
            page.wait_for_url("**/online/cases")
            # Then my cases lists the company's case, and its page tells where it is and when it is due
            assert "示范餐饮管理有限公司" in page.text_content("#who")
            assert no_horizontal_scroll(page)
            page.click(f"li[data-case='{case_no}'] a")
            page.wait_for_url(f"**/online/cases/{case_no}")
            assert page.text_content("#status").strip().startswith("已受理")
            assert page.is_visible("#due-date") and no_horizontal_scroll(page)
            # And signing out ends it: my cases sends him to sign in again
            page.click("#sign-out")
            page.wait_for_url("**/online/?signed_out=1")
            page.goto(f"{live_server.url}/online/cases")
            page.wait_for_url(f"http://127.0.0.1:{idp_port}/authorize*")
            # When the identity whose ID number fails its check is chosen instead
            page.click("button[data-identity=bad]")
            page.wait_for_url("**/online/callback*")
            # Then the app refuses it with a page that says why, on the phone's width
            assert "登录未完成" in page.text_content("h1") and "校验位" in page.text_content("main")
            assert no_horizontal_scroll(page)
        finally:
            context.close()
