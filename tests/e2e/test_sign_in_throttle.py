"""Failed sign-ins are throttled per account at a client, per client, and (only slowed) per account;
the counts are shared through the database, and a refused attempt costs no Argon2 hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import clock, identity, throttle
from engine.models import AuditEntry
from tests.conftest import PASSWORD, make_app

GUESSER = "10.1.1.1"


def _token(app, username: str, password: str, client: str = GUESSER):
    return app.test_client().post("/api/auth/token", json={"username": username, "password": password},
                                  environ_base={"REMOTE_ADDR": client})


class _CountingHasher:
    """The real Argon2 hasher, counting each hash or verify it is asked for."""

    def __init__(self, real, calls: list[str]):
        self.real, self.calls = real, calls

    def verify(self, *args, **kwargs):
        self.calls.append("verify")
        return self.real.verify(*args, **kwargs)

    def hash(self, *args, **kwargs):
        self.calls.append("hash")
        return self.real.hash(*args, **kwargs)


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every Argon2 verify or hash a sign-in makes."""
    calls: list[str] = []
    monkeypatch.setattr(identity, "_hasher", _CountingHasher(identity._hasher, calls))
    return calls


def _events(app) -> list[tuple[str, str | None, str | None]]:
    with app.extensions["onewindow.db"].read() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.category == "security").order_by(AuditEntry.id))
        return [(r.event, r.username, r.client) for r in rows]


def test_thirty_wrong_passwords_get_429_without_hashing_and_another_user_signs_in(pg_app, hashes):
    any_app = pg_app  # the production database, with the real limits
    start = clock.now()
    with clock.frozen(start):
        # Given 30 wrong passwords for window1 from one client
        answers = [_token(any_app, "window1", f"wrong-guess-{i}") for i in range(30)]
        # Then the first 10 are checked (401), the other 20 refused before any hashing (429)
        assert [r.status_code for r in answers] == [401] * 10 + [429] * 20
        assert len(hashes) == 10
        refused = answers[-1]
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
        assert refused.get_json()["status"] == 429
        # And the right password from that client waits too
        assert _token(any_app, "window1", PASSWORD).status_code == 429
        # When another user signs in from the same client, or window1 from their own desk
        other = _token(any_app, "window2", PASSWORD)
        own_desk = _token(any_app, "window1", PASSWORD, client="10.2.2.2")
        # Then both get in
        assert other.status_code == 200 and own_desk.status_code == 200
    # And once the window has passed, the guessing client may try again
    with clock.frozen(start + timedelta(minutes=15, seconds=1)):
        assert _token(any_app, "window1", PASSWORD).status_code == 200


def test_the_counts_hold_across_web_processes(any_app, tmp_path):
    # Given a second web process on the same database (both with an account-at-a-client limit of 2)
    other = make_app(tmp_path / "second", any_app.extensions["onewindow.db"].url)
    for app in (any_app, other):
        app.extensions["engine.sign_in_limits"] = throttle.Limits(pair_failures=2)
    try:
        with clock.frozen(clock.now()):
            # When two wrong passwords are tried through the first
            assert {_token(any_app, "market1", f"wrong-{i}").status_code for i in range(2)} == {401}
            # Then the second refuses the next attempt from that client
            r = _token(other, "market1", PASSWORD)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    finally:
        other.extensions["onewindow.db"].dispose()


def test_a_guesser_on_many_addresses_only_slows_the_account_and_never_its_own_desk(sqlite_app, hashes):
    # Given small limits (the account slows after 3 failures from anywhere, one attempt per 30 s)
    sqlite_app.extensions["engine.sign_in_limits"] = throttle.Limits(account_failures=3)
    start = clock.now()
    with clock.frozen(start):
        # and market1 has signed in from their desk before
        assert _token(sqlite_app, "market1", PASSWORD, client="10.9.9.9").status_code == 200
        # When wrong passwords come from new addresses, one each
        first = [_token(sqlite_app, "market1", "wrong-one", client=f"10.3.0.{i}").status_code for i in range(4)]
        slowed = _token(sqlite_app, "market1", "wrong-one", client="10.3.0.99")
        # Then three are checked, the fourth takes the one slot of this 30 s, the fifth waits for the next
        assert first == [401, 401, 401, 401]
        assert slowed.status_code == 429 and 0 < int(slowed.headers["Retry-After"]) <= 30
        # while market1 at their known desk is not slowed at all
        assert _token(sqlite_app, "market1", PASSWORD, client="10.9.9.9").status_code == 200
    with clock.frozen(start + timedelta(seconds=30)):
        # And 30 s later a new address gets its attempt (checked, so 401 for a wrong password)
        assert _token(sqlite_app, "market1", "wrong-one", client="10.3.0.100").status_code == 401


def test_one_address_trying_many_accounts_is_refused(sqlite_app):
    sqlite_app.extensions["engine.sign_in_limits"] = throttle.Limits(client_failures=3)
    with clock.frozen(clock.now()):
        codes = [_token(sqlite_app, name, "wrong-guess-1").status_code
                 for name in ("window1", "window2", "market1", "market2")]
        assert codes == [401, 401, 401, 429]
        # an address of its own is not affected
        assert _token(sqlite_app, "market2", PASSWORD, client="10.4.4.4").status_code == 200


def test_the_login_page_is_throttled_too(sqlite_app):
    sqlite_app.extensions["engine.sign_in_limits"] = throttle.Limits(pair_failures=2)
    from tests.conftest import Browser

    browser = Browser(sqlite_app, client=GUESSER)
    with clock.frozen(clock.now()):
        codes = [browser.login("window1", "wrong-guess").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        page = browser.login("window1", PASSWORD)
        assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
        assert "登录尝试过于频繁" in page.get_data(as_text=True)
    # and each failure and each refusal is a security event in the audit log, naming the client
    failed, throttled = ("login_failed", "window1", GUESSER), ("login_throttled", "window1", GUESSER)
    assert _events(sqlite_app) == [failed, failed, throttled, throttled]


def test_logout_over_the_api_revokes_the_bearer_token(any_app):
    token = _token(any_app, "window1", PASSWORD).get_json()["token"]
    client = any_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=auth).status_code == 200
    # When the token's holder logs out
    out = client.post("/api/auth/logout", headers=auth)
    assert out.status_code == 200 and out.get_json() == {"signed_out": True}
    # Then the token is refused from the very next request, logging out again included
    assert client.get("/api/me", headers=auth).status_code == 401
    assert client.post("/api/auth/logout", headers=auth).status_code == 401
    # And the sign-out is in the audit log
    assert ("token_revoked", "window1", "127.0.0.1") in _events(any_app)


def test_a_client_is_its_address_or_its_ipv6_64():
    assert throttle.client_key("192.0.2.7") == "192.0.2.7"
    assert throttle.client_key("2001:db8:1:2:aaaa::1") == throttle.client_key("2001:db8:1:2:bbbb::2")
    assert throttle.client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert throttle.client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.client_key(None) == "unknown"
