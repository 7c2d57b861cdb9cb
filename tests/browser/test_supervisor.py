"""The supervisor's pages in headless Chromium: the alerts inbox with acknowledge, the at-risk list,
the compliance chart and a case's clock ledger."""

from __future__ import annotations

import pytest

from tests.e2e.test_sla_pages import office_app  # noqa: F401 - the seeded office (alerts raised)

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_app(office_app):  # noqa: F811 - the seeded office is what the live server serves
    return office_app[0]


def test_supervisor_acknowledges_and_follows_a_case(office_app, live_server, page):  # noqa: F811
    _app, late, on_time = office_app
    live_server.login(page, "market_lead")
    page.goto(f"{live_server.url}/supervision/alerts")
    rows = page.locator("#alerts tr[data-alert]")
    assert rows.count() == 2
    assert late in rows.first.inner_text() and "示范餐饮店" not in page.content()
    # When the supervisor acknowledges one alert, one open alert is left
    rows.first.locator("button").click()
    page.wait_for_load_state("load")
    assert page.locator("#alerts tr[data-alert]").count() == 1
    page.goto(f"{live_server.url}/supervision/alerts?state=acked")
    assert page.locator("#alerts tr[data-alert]").count() == 1
    assert "market_lead" in page.locator("#alerts tr[data-alert]").first.inner_text()
    # The at-risk page lists the late case by department, not the one decided on time
    with page.expect_navigation():  # the page is read once the click's navigation is done
        page.click("text=临期与超期")
    assert late in page.content() and on_time not in page.content()
    # The compliance chart draws one bar per month, department and service
    with page.expect_navigation():  # the page is read once the click's navigation is done
        page.click("text=按时办结率")
    assert page.locator("#compliance-chart rect").count() == 2
    # The case's ledger, from the alerts inbox link
    page.goto(f"{live_server.url}/supervision/alerts?state=all")
    with page.expect_navigation():  # the page is read once the click's navigation is done
        page.click(f"#alerts >> text={late}")
    assert page.locator("#ledger tr").count() == 2  # header + started
    assert "2026-03-30" in page.content()
