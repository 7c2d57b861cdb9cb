"""Behind a reverse proxy every request comes from the proxy's address: with ONEWINDOW_TRUSTED_PROXIES
the public pages' rate limit counts each client by the address the proxy forwarded, and without it a
client cannot pick its own address by sending X-Forwarded-For."""

from __future__ import annotations

import pytest

from intake.ratelimit import RateLimiter
from onewindow.app import create_app
from onewindow.config import from_env

PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # every request reaches the app from the proxy


def _app(tmp_path, proxies: int):
    app = create_app(database_url=f"sqlite:///{tmp_path}/p{proxies}.db", secret_key="x",
                     instance_dir=str(tmp_path), trusted_proxies=proxies)
    app.extensions["intake.rate_limiter"] = RateLimiter(limit=2, seconds=60)
    return app


def _lookup(client, forwarded_for: str) -> int:
    return client.get("/api/public/cases/NO-SUCH?id_tail=0000", environ_base=PROXY,
                      headers={"X-Forwarded-For": forwarded_for}).status_code


def test_behind_one_proxy_each_client_has_its_own_window(tmp_path):
    from onewindow import migrate

    app = _app(tmp_path, 1)
    db = app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    client = app.test_client()
    # Given two applicants behind the same proxy
    assert [_lookup(client, "203.0.113.7") for _ in range(2)] == [404, 404]
    # When the first asks again, it is slowed; the second is not
    assert _lookup(client, "203.0.113.7") == 429
    assert _lookup(client, "198.51.100.1") == 404
    # And an address the client put in front of the proxy's own entry is not believed
    assert _lookup(client, "1.2.3.4, 203.0.113.7") == 429


def test_without_trusted_proxies_forwarded_headers_are_ignored(tmp_path):
    from onewindow import migrate

    app = _app(tmp_path, 0)
    db = app.extensions["onewindow.db"]
    migrate.upgrade(db.url, db.engine)
    client = app.test_client()
    assert [_lookup(client, f"203.0.113.{i}") for i in range(2)] == [404, 404]
    assert _lookup(client, "203.0.113.99") == 429  # a new header does not buy a new window


def test_the_setting_is_read_from_the_environment_and_checked(tmp_path):
    assert from_env({"ONEWINDOW_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    with pytest.raises(ValueError, match="ONEWINDOW_TRUSTED_PROXIES must be a whole number, not 'many'"):
        from_env({"ONEWINDOW_TRUSTED_PROXIES": "many"})
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app(database_url=f"sqlite:///{tmp_path}/n.db", secret_key="x", instance_dir=str(tmp_path),
                   trusted_proxies=-1)
