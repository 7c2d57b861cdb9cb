"""The pages' cookie sessions: CSRF tokens and the request's origin, security headers, the Secure
flag behind an HTTPS proxy, and the idle time-out."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from engine import clock
from tests.conftest import Api, Browser, deploy_reference, make_app
from tests.e2e.test_worklist_api import open_task, start


@pytest.fixture
def queued(sqlite_app):
    """window1 signed in on the pages, and an intake task waiting in the front desk's queue."""
    deploy_reference(sqlite_app)
    task = open_task(sqlite_app, start(sqlite_app, "food"), "intake")
    desk = Browser(sqlite_app)
    assert desk.login("window1").status_code == 302
    desk.get(f"/tasks/{task['id']}")
    return sqlite_app, desk, task


def _state(app, task_id: str) -> tuple[str | None, int]:
    view = Api(app, "window1").get(f"/api/tasks/{task_id}").get_json()["task"]
    return view["assignee"], view["version"]


def test_a_cookie_post_without_the_token_or_from_another_site_changes_nothing(queued):
    app, desk, task = queued
    before = _state(app, task["id"])
    assert before[0] is None
    claim = f"/tasks/{task['id']}/claim"
    # When the claim form is posted without its CSRF token, or with a forged one
    no_token = desk.client.post(claim, data={"version": task["version"]}, headers={"Origin": "http://localhost"})
    forged = desk.post(claim, data={"version": task["version"], "csrf_token": "forged"})
    # or with the right token but from another site (Origin, or Sec-Fetch-Site when Origin is absent)
    foreign = desk.post(claim, data={"version": task["version"]}, headers={"Origin": "https://evil.example"})
    cross = desk.client.post(claim, data={"version": task["version"], "csrf_token": desk.token},
                             headers={"Sec-Fetch-Site": "cross-site"})
    # Then each is refused and the task is as it was
    assert [r.status_code for r in (no_token, forged, foreign, cross)] == [400, 400, 403, 403]
    assert "刷新页面" in no_token.get_data(as_text=True)
    assert _state(app, task["id"]) == before
    # While the form as the page served it claims the task
    assert desk.post(claim, data={"version": task["version"]}).status_code == 302
    assert _state(app, task["id"])[0] == "window1"


def test_the_session_cookie_never_signs_in_a_state_changing_api_call(queued):
    app, desk, task = queued
    before = _state(app, task["id"])
    # The cookie still reads (the page's notice links are API GETs)
    assert desk.client.get("/api/me").status_code == 200
    # but a POST to the API with only the cookie is not signed in, and changes nothing
    r = desk.client.post(f"/api/tasks/{task['id']}/claim", json={}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 401
    assert _state(app, task["id"]) == before


def test_a_login_form_posted_from_another_site_is_refused(sqlite_app):
    browser = Browser(sqlite_app)
    browser.get("/login")
    r = browser.post("/login", data={"username": "window1", "password": "test-pass-123"},
                     headers={"Origin": "null"})
    assert r.status_code == 403
    with browser.client.session_transaction() as sess:
        assert "token" not in sess


def test_every_response_carries_the_security_headers(sqlite_app):
    client = sqlite_app.test_client()
    for r in (client.get("/login"), client.get("/api/openapi.json"), client.get("/api/me"),
              client.get("/no/such/page")):
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]  # never inline script
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP
    # and these pages run no script, inline or linked, and no javascript: link (the policy forbids them)
    page = client.get("/no/such/page").get_data(as_text=True) + client.get("/login").get_data(as_text=True)
    assert "<script" not in page and "javascript:" not in page


def test_over_https_behind_the_trusted_proxy_the_cookie_is_secure(tmp_path, sqlite_template):
    target = tmp_path / "onewindow.db"
    shutil.copy(sqlite_template, target)
    app = make_app(tmp_path, f"sqlite:///{target}", trusted_proxies=1)
    try:
        client = app.test_client()
        https = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert "Secure" in https.headers["Set-Cookie"] and "HttpOnly" in https.headers["Set-Cookie"]
        assert https.headers["Strict-Transport-Security"].startswith("max-age=")
        plain = app.test_client().get("/login")
        assert "Secure" not in plain.headers["Set-Cookie"]
    finally:
        app.extensions["onewindow.db"].dispose()


def test_with_no_trusted_proxy_a_client_cannot_claim_https(sqlite_app):
    r = sqlite_app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in r.headers["Set-Cookie"] and "Strict-Transport-Security" not in r.headers


def test_an_idle_session_times_out_and_its_token_is_revoked(sqlite_app):
    start_at = clock.now()
    desk = Browser(sqlite_app)
    with clock.frozen(start_at):
        assert desk.login("window1").status_code == 302
        with desk.client.session_transaction() as sess:
            token = sess["token"]
    # Activity keeps the session alive: 20 minutes, then 20 more
    for minutes in (20, 40):
        with clock.frozen(start_at + timedelta(minutes=minutes)):
            assert desk.get("/tasks").status_code == 200
    # When it has been idle for more than 30 minutes
    with clock.frozen(start_at + timedelta(minutes=71)):
        r = desk.get("/tasks")
        # Then the page sends the user to sign in again, saying why, and the token is dead
        assert r.status_code == 302 and "/login" in r.headers["Location"]
        assert "长时间未操作" in desk.get("/login").get_data(as_text=True)
        assert sqlite_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}
                                            ).status_code == 401
