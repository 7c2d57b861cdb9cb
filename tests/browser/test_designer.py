"""The designer's pages and the case diagrams in headless Chromium (issue 14, acceptance 6).

A designer deploys a broken file on the page and sees its problems per element, in the table and on
the file's own diagram; a good file deploys and its version page draws it with its DMN table. A case's
diagram on the supervision and worklist case pages shows its current step highlighted, the overdue step
marked and the steps it went through. Screenshots go to tests/browser/artifacts/ (gitignored).

The diagrams need bpmn-js and dmn-js, which scripts/setup installs from the npm registry: without them
these tests skip locally and fail in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.designer import viewers_installed
from tests.conftest import IN_CI, ROOT
from tests.e2e.test_sla_pages import office_app  # noqa: F401 - a case at 承办 overdue, one decided late

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
BROKEN = ROOT / "tests" / "processes" / "broken" / "several_problems.bpmn"


@pytest.fixture(autouse=True)
def _viewers():
    if not viewers_installed():
        message = "bpmn-js / dmn-js are not in engine/static/vendor: run ./scripts/setup (it needs npm)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def browser_app(office_app):  # noqa: F811 - the seeded office is what the live server serves
    return office_app[0]


# Said on the console but no fault: a status the response check judges, and dmn-js's bundle telling that
# it carries Inferno's development build (dmn-js ships it so; it draws the same).
QUIET = ("Failed to load resource", "It looks like you're using a minified copy of the development build of Inferno")


def watch(page) -> list[str]:
    """What went wrong in the page: script errors, refusals by the content security policy, files that
    did not load (the browser's own favicon.ico and the deploy's answer of 422 are expected)."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text)
            if m.type == "error" and not m.text.startswith(QUIET) else None)
    page.on("pageerror", lambda exc: found.append(str(exc)))
    page.on("response", lambda r: found.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith(("/favicon.ico", "/designer/deploy")) else None)
    return found


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def drawn(page, selector: str = "section.ow-diagrams") -> None:
    """Wait until the page's script has drawn its diagrams (or given up: then the test says why)."""
    page.wait_for_selector(f"{selector}[data-state=ready], {selector}[data-state=failed]")
    assert page.get_attribute(selector, "data-state") == "ready", page.inner_text(selector)


def classes(page, element_id: str, figure: str = ".ow-diagram") -> str:
    return page.get_attribute(f"{figure} .djs-element[data-element-id={element_id}]", "class") or ""


def test_a_designer_deploys_a_broken_file_and_sees_its_problems_per_element(live_server, page):
    errors = watch(page)
    # Given a designer on the deploy page
    live_server.login(page, "designer1")
    page.click("text=流程设计")
    page.click("text=上传部署")
    # When they upload a file with eight problems in seven elements
    page.set_input_files("input[name=file]", str(BROKEN))
    with page.expect_navigation():
        page.click("button[type=submit]")
    # Then it is refused, each problem listed under its element
    assert "未部署：8 个错误" in page.inner_text("#refused")
    rows = page.locator("#problems tr[data-element]")
    assert rows.count() == 8
    assert page.locator("#problems tr[data-element=orphan]").count() == 2
    assert "clock must be one of" in page.inner_text("#problems tr[data-element=orphan] >> nth=1")
    # and the file's own diagram marks each element with a problem, with its count
    drawn(page)
    for element in ("gw_route", "orphan", "call_missing", "decide_fee", "compute", "wait", "gw_defaulted"):
        assert "ow-problem" in classes(page, element), element
    assert "ow-problem" not in classes(page, "intake")
    badges = page.locator(".ow-badge-problem")
    assert badges.count() == 7 and "2" in [badges.nth(i).inner_text() for i in range(7)]
    # and a click on an element picks its row in the table
    page.click(".djs-element[data-element-id=compute]")
    assert page.locator("#problems tr.ow-picked[data-element=compute]").count() == 1
    shot(page, "deploy-refused-per-element")
    assert errors == [], errors  # no script error, no refused by the content security policy


def test_a_good_file_deploys_and_its_version_page_draws_it_with_its_decision_table(live_server, page):
    errors = watch(page)
    live_server.login(page, "designer1")
    page.goto(f"{live_server.url}/designer/deploy")
    # When the designer uploads the reference process with its DMN (forms come from bpmn/forms)
    page.set_input_files("input[name=file]", [str(ROOT / "bpmn/processes/one_window.bpmn"),
                                              str(ROOT / "bpmn/decisions/classify.dmn")])
    with page.expect_navigation():
        page.click("button[type=submit]")
    # Then the content is the version already deployed, and its page draws the process and the table
    assert "内容与 v1 相同" in page.inner_text("#deployed")
    drawn(page)
    assert page.locator(".ow-bpmn .djs-element[data-element-id=handle]").count() == 1
    assert page.locator(".ow-dmn .tjs-table, .ow-dmn table").count() >= 1
    assert page.locator(".ow-dmn [data-state=ready], .ow-dmn[data-state=ready]").count() == 1
    assert "没有发现问题" in page.inner_text("#problems")
    shot(page, "version-page")
    assert errors == [], errors


def test_a_cases_diagram_shows_its_current_step_and_the_overdue_one(office_app, live_server, page):  # noqa: F811
    _app, late, on_time = office_app
    errors = watch(page)
    # Given the supervisor of the department, on the supervision page of the case at 承办 past its deadline
    live_server.login(page, "market_lead")
    page.goto(f"{live_server.url}/supervision/cases/{late}")
    drawn(page)
    # Then 承办 is highlighted as the current step and marked overdue; 受理审查 is done
    assert "ow-current" in classes(page, "handle") and "ow-overdue" in classes(page, "handle")
    assert "ow-done" in classes(page, "intake") and "ow-current" not in classes(page, "intake")
    assert page.get_attribute("#steps tr[data-element=handle]", "data-state") == "overdue"
    shot(page, "case-overdue-supervision")
    # And on the worklist's case page, the case decided late shows its path and the step finished late
    live_server.login(page, "market1")
    page.goto(f"{live_server.url}/cases/{on_time}")
    drawn(page)
    assert "ow-current" in classes(page, "issue_result")
    for element in ("intake", "handle", "review", "approve"):
        assert "ow-done" in classes(page, element), element
    assert "ow-late" in classes(page, "handle")
    shot(page, "case-path-worklist")
    assert errors == [], errors


def test_without_script_the_pages_list_the_steps_and_the_problems(live_server, browser):
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    try:
        live_server.login(page, "designer1")
        page.goto(f"{live_server.url}/designer/processes/one_window/versions/1")
        assert page.locator("table.ow-elements tr[data-element=handle]").count() == 1
        assert "没有发现问题" in page.inner_text("#problems")
    finally:
        context.close()
