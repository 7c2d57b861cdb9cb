"""Browser journeys (acceptance 2): the director reads the dashboard, whose figures the test computes
itself from the seeded cases; an administrator adds an account and disables another. Screenshots are
kept under tests/browser/artifacts/ (gitignored) for a person to look at."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.e2e import dashboard_seed
from tests.e2e.dashboard_seed import TODAY, expected

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def as_shown(value: float | None, kind: str) -> str:
    """How the test expects a figure written: a rate as a whole percentage, a mean to one decimal."""
    if value is None:
        return "—"
    return {"percent": f"{value * 100:.0f}%", "number": f"{value:.1f}"}.get(kind, f"{value:.0f}")


KINDS = {"closed": "count", "on_time_rate": "percent", "avg_working_days": "number", "received": "count",
         "wholly_online_rate": "percent", "avg_visits": "number", "zero_visit_rate": "percent",
         "from_records_rate": "percent", "rated": "count", "good_rate": "percent", "compression": "percent",
         "online_items_rate": "percent", "overdue_steps": "count", "followups_open": "count"}


@pytest.fixture
def browser_app(sqlite_app):
    dashboard_seed.seed(sqlite_app)
    yield sqlite_app
    dashboard_seed.reset_clock()


def test_the_director_reads_the_figures_of_the_seeded_cases(live_server, page):
    # Given the seeded office, read on Fri 2026-03-20
    page.set_viewport_size({"width": 1366, "height": 768})
    live_server.login(page, "director")
    # When the director opens electronic supervision, then its dashboard, for the three weeks
    with page.expect_navigation():
        page.click("header >> text=电子监察")
    with page.expect_navigation():
        page.click("text=办件监察指标")
    page.fill("#f-to", TODAY.isoformat())
    page.fill("#f-weeks", "3")
    with page.expect_navigation():
        page.click("#dashboard-filters button")
    shot(page, "director-dashboard")
    # Then every figure of the office and of each department is the one the test computes
    wrong = {}
    for department in (None, "market_dept", "health_dept"):
        want = expected(department)
        for section in ("time", "reform", "rating"):
            row = page.locator(f'#figures-{section} tr[data-department="{department or ""}"][data-service=""]')
            for key, kind in KINDS.items():
                cell = row.locator(f'td[data-figure="{key}"]')
                if cell.count() and cell.inner_text().strip() != as_shown(want[key], kind):
                    wrong[(department, key)] = (cell.inner_text(), as_shown(want[key], kind))
    assert wrong == {}
    # and the charts draw one bar a week (three weeks)
    assert page.locator("#chart-on_time_rate rect").count() == 3
    # and the bad ratings' follow-ups are listed, one still open
    assert page.locator("#followups tr[data-followup]").count() == 2
    assert "整改中" in page.locator("#followups").inner_text()
    # A department supervisor sees his own department only
    page.context.clear_cookies()
    live_server.login(page, "market_lead")
    page.goto(f"{live_server.url}/supervision/dashboard?to={TODAY.isoformat()}&weeks=3")
    assert page.locator('#figures-time tr[data-department="health_dept"]').count() == 0
    shot(page, "supervisor-dashboard")


def test_an_admin_adds_an_account_and_disables_another(live_server, page):
    page.set_viewport_size({"width": 1366, "height": 768})
    live_server.login(page, "admin")
    # When the administrator opens 系统管理 > 用户 and adds a caseworker to the market department
    with page.expect_navigation():
        page.click("header >> text=系统管理")
    with page.expect_navigation():
        page.click("#admin-sections >> text=用户")
    page.fill("#f-username", "market4")
    page.fill("#f-password", "Xin-mima-2026!")
    page.fill("#f-display_name", "市场监管局 新人")
    page.check('#add-user input[name=groups][value="market_dept"]')
    shot(page, "admin-add-user-form")
    with page.expect_navigation():
        page.click("#add-user-submit")
    # Then the account's page says it was added, with its department
    assert "用户已新增" in page.locator("#done").inner_text()
    assert page.locator('#profile input[name=groups][value="market_dept"]').is_checked()
    shot(page, "admin-user-added")
    # When the administrator opens another account and disables it
    page.goto(f"{live_server.url}/admin/users")
    with page.expect_navigation():
        page.click('#users tr[data-user="general3"] a')
    with page.expect_navigation():
        page.click("#toggle-active")
    assert page.locator("#user-state").inner_text() == "已停用"
    shot(page, "admin-user-disabled")
    # Then the list shows both, and the disabled one can no longer sign in
    page.goto(f"{live_server.url}/admin/users")
    assert "已停用" in page.locator('#users tr[data-user="general3"]').inner_text()
    assert page.locator('#users tr[data-user="market4"]').count() == 1
    page.context.clear_cookies()
    live_server.login(page, "general3")
    assert "/login" in page.url
