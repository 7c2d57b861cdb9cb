"""The caseworker's pages in headless Chromium at 1366x768: log in, filter, claim, complete, send back, conflict."""

from __future__ import annotations

import pytest

from tests.conftest import deploy_reference
from tests.e2e.test_worklist_api import at_handle, complete, open_task

pytestmark = pytest.mark.browser


@pytest.fixture
def office(browser_app):
    deploy_reference(browser_app)
    return browser_app


def _new_page(browser, server, username: str):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    page = context.new_page()
    server.login(page, username)
    return context, page


def test_log_in_filter_claim_and_complete_the_form(office, live_server, browser):
    # Given two tasks waiting in the market department
    no_a, a = at_handle(office, "food", "张三餐饮店")
    no_b, b = at_handle(office, "business", "李四商贸")
    context, page = _new_page(browser, live_server, "market1")
    try:
        # When market1 logs in, they land on the task list with the badges
        page.goto(f"{live_server.url}/tasks?view=queue")
        assert page.locator("[data-badge=queue]").inner_text() == "2"
        assert page.locator("#task-list tbody tr[data-task-id]").count() == 2
        # And filtering by the applicant's name leaves one
        page.fill("input[name=q]", "李四")
        page.click("#filters button[type=submit]")
        rows = page.locator("#task-list tbody tr[data-task-id]")
        assert rows.count() == 1 and rows.first.get_attribute("data-case-no") == no_b
        # When they open it and claim it
        rows.first.get_by_role("link", name="办理").click()
        page.click("#claim")
        assert page.locator("#task-assignee").inner_text() == "market1"
        # And submit the form without a conclusion, the page names the field
        page.fill("#f-opinion", "材料齐全，同意受理")
        page.click("#complete")
        assert "outcome" in page.locator("#message").inner_text()
        assert page.locator("#f-opinion").input_value() == "材料齐全，同意受理"
        # When they choose the conclusion and submit
        page.select_option("#f-outcome", "submit")
        page.click("#complete")
        # Then the case page shows the completion, and the review step is open
        assert page.locator("#history tr[data-kind=task_completed]").count() == 2
        assert open_task(office, no_b, "review")["group"] == "market_dept"
        page.goto(f"{live_server.url}/tasks?view=archive")
        assert page.locator("#task-list tbody tr[data-task-id]").count() == 1
        assert page.locator("[data-badge=archive]").inner_text() == "1"
    finally:
        context.close()


def test_send_back_with_a_reason_keeps_the_earlier_data(office, live_server, browser):
    # Given review open after handle was done with an opinion
    no, handle = at_handle(office, "food", "王五小吃")
    complete(office, "market1", handle["id"], {"outcome": "submit", "opinion": "现场核查通过"})
    review = open_task(office, no, "review")
    context, page = _new_page(browser, live_server, "market2")
    try:
        # When market2 sends it back with a reason
        page.goto(f"{live_server.url}/tasks/{review['id']}")
        earlier = page.locator("#earlier-opinions tr[data-step=handle]")
        assert "现场核查通过" in earlier.inner_text() and "market1" in earlier.inner_text()
        page.fill("#reason", "营业执照复印件不清晰")
        page.click("#send-back")
        # Then the history shows the send back and its reason
        row = page.locator("#history tr[data-kind=task_sent_back]")
        assert row.count() == 1 and "营业执照复印件不清晰" in row.inner_text()
        # And the handle step is open again with the earlier opinion filled in
        again = open_task(office, no, "handle")
        page.goto(f"{live_server.url}/tasks/{again['id']}")
        assert page.locator("#f-opinion").input_value() == "现场核查通过"
        assert page.locator("#f-outcome").input_value() == "submit"
        assert page.locator("#send-back").count() == 0  # handle has no send-back path
    finally:
        context.close()


def test_two_browsers_one_task_the_second_sees_who_took_it(office, live_server, browser):
    # Given market1 and market2 both looking at the same open task
    _, task = at_handle(office, "food", "赵六饭店")
    ctx1, page1 = _new_page(browser, live_server, "market1")
    ctx2, page2 = _new_page(browser, live_server, "market2")
    try:
        page1.goto(f"{live_server.url}/tasks/{task['id']}")
        page2.goto(f"{live_server.url}/tasks/{task['id']}")
        # When market1 claims first and market2 clicks claim on the stale page
        page1.click("#claim")
        assert page1.locator("#task-assignee").inner_text() == "market1"
        page2.click("#claim")
        # Then market2 is told who took it, and the page shows the holder
        assert "market1" in page2.locator("#message").inner_text()
        assert page2.locator("#task-assignee").inner_text() == "market1"
        assert page2.locator("#claim").count() == 0
    finally:
        ctx1.close()
        ctx2.close()


def test_task_list_fits_an_office_screen(office, live_server, browser):
    at_handle(office, "food")
    context, page = _new_page(browser, live_server, "market1")
    try:
        page.goto(f"{live_server.url}/tasks?view=queue")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366
    finally:
        context.close()
