"""Bearer tokens through the app, with the token cache in between: what must still be refused, and when."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from engine import clock, identity
from engine.identity import ActorCache
from tests.conftest import PASSWORD, Api, Browser


def _login_with_the_form(app, username: str):
    browser = Browser(app)
    r = browser.login(username)
    assert r.status_code == 302, r.data
    with browser.client.session_transaction() as sess:
        return browser, sess["token"]


def _me(app, token: str):
    return app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})


def test_logout_refuses_the_token_at_once_even_though_it_was_cached(any_app):
    # Given a token used once, so this process has it cached
    client, token = _login_with_the_form(any_app, "market1")
    assert _me(any_app, token).status_code == 200
    # When the user logs out
    assert client.post("/logout").status_code == 302
    # Then the same token is refused on the very next request
    assert _me(any_app, token).status_code == 401


def test_an_expired_token_is_refused_while_cached(any_app):
    _client, token = _login_with_the_form(any_app, "market1")
    assert _me(any_app, token).status_code == 200
    with clock.frozen(clock.now() + identity.TOKEN_LIFETIME + timedelta(seconds=1)):
        r = _me(any_app, token)
    assert r.status_code == 401
    assert r.get_json()["detail"] == "the token is unknown or expired"


def test_changing_a_users_groups_is_seen_at_once(any_app):
    api = Api(any_app, "market1")
    assert api.get("/api/me").get_json()["groups"] == ["market_dept"]
    with any_app.extensions["onewindow.db"].unit_of_work() as uow:
        identity.add_user(uow.session, "market1", PASSWORD, groups=["health_dept"])
    assert api.get("/api/me").get_json()["groups"] == ["health_dept"]
    # and so is what the groups open: market's queue is no longer theirs
    assert api.get("/api/tasks", query_string={"view": "queue", "department": "market_dept"}
                   ).get_json()["items"] == []


def _cached_login(app, monkeypatch) -> tuple[list[float], str]:
    """This process caches tokens for 5 s on a clock the test moves; market1 is logged in and known."""
    now = [1000.0]
    monkeypatch.setattr(identity, "actors", ActorCache(ttl=5.0, monotonic=lambda: now[0]))
    _client, token = _login_with_the_form(app, "market1")
    assert _me(app, token).status_code == 200
    return now, token


def test_a_revocation_by_another_process_is_seen_within_the_ttl(any_app, monkeypatch):
    # Given this process caches tokens for 5 s (on a clock the test moves)
    now, token = _cached_login(any_app, monkeypatch)
    # When the token row is deleted behind this process's back (another process's logout)
    with any_app.extensions["onewindow.db"].engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM api_tokens"))
    # Then it may still be accepted until the entry is 5 s old, and is refused from then on
    now[0] += 4.5
    assert _me(any_app, token).status_code == 200
    now[0] += 0.5
    assert _me(any_app, token).status_code == 401


def test_a_disabled_user_is_refused_once_the_entry_is_stale(any_app, monkeypatch):
    now, token = _cached_login(any_app, monkeypatch)
    with any_app.extensions["onewindow.db"].engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET active = false WHERE username = 'market1'"))
    now[0] += 5.0
    r = _me(any_app, token)
    assert r.status_code == 401
    assert r.get_json()["detail"] == "the user is disabled"


def test_an_unknown_token_is_refused(any_app):
    assert _me(any_app, "not-a-token").status_code == 401


def test_the_cache_lifetime_is_a_setting_and_zero_reads_the_token_every_time(tmp_path, sqlite_template):
    import shutil

    from onewindow.config import from_env
    from tests.conftest import make_app

    assert from_env({"ONEWINDOW_TOKEN_CACHE_SECONDS": "0"}).token_cache_seconds == 0
    target = tmp_path / "onewindow.db"
    shutil.copy(sqlite_template, target)
    app = make_app(tmp_path, f"sqlite:///{target}", token_cache_seconds=0)
    try:
        assert identity.actors.ttl == 0
        _client, token = _login_with_the_form(app, "market1")
        assert _me(app, token).status_code == 200
        with app.extensions["onewindow.db"].engine.begin() as conn:  # another process's logout
            conn.execute(sa.text("DELETE FROM api_tokens"))
        assert _me(app, token).status_code == 401  # at once: nothing was cached
    finally:
        app.extensions["onewindow.db"].dispose()
        identity.actors.ttl = identity.TOKEN_CACHE_SECONDS
