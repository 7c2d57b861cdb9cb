"""Shared browser fixtures: the app served on 127.0.0.1 in a thread, and a headless Chromium page.

The browser is the system's Chromium (``/usr/bin/chromium`` or ``ONEWINDOW_TEST_CHROMIUM``) driven by
Playwright; browsers are never downloaded. Locally a missing Chromium skips the test with the reason;
with CI=true it fails.

Fixtures:
- ``browser_app``: the Flask app to serve (the SQLite ``sqlite_app`` by default; override it in a
  test module to serve something else, e.g. ``pg_app``).
- ``live_server``: a :class:`LiveServer` (``.url``, ``.app``, ``.login(page, username)``).
- ``browser``: one Chromium per session; ``page``: a fresh context and page per test.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def chromium_path() -> str | None:
    configured = os.environ.get("ONEWINDOW_TEST_CHROMIUM")
    candidates = [configured] if configured else ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def _need_chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "no system Chromium (apt-get install -y chromium); browsers are never downloaded"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class LiveServer:
    url: str
    app: object

    def login(self, page, username: str, password: str = PASSWORD) -> None:
        """Log in through the real login form; leaves the page wherever the app sends the user."""
        page.goto(f"{self.url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state("load")


@pytest.fixture
def browser_app(sqlite_app):
    return sqlite_app


@pytest.fixture
def live_server(browser_app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, browser_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", browser_app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    executable = _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
