"""Applicants sign in through the identity service (统一身份认证): the OIDC client refuses a wrong state,
a wrong nonce, an ID token signed by another key, for another audience, from another issuer or expired,
and a token whose ID number fails GB 11643 (issue 16, acceptance 4). Each callback is driven with a
token crafted by a test issuer served on loopback; one sign-in goes through with a valid one, so the
refusals are refusals of what was changed and nothing else."""

from __future__ import annotations

import shutil
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from engine.models import ApplicantSession, AuditEntry
from tests.conftest import make_app
from tests.oidc_issuer import CALLBACK, CLIENT_ID, CLIENT_SECRET, TestIssuer, authorize_params, new_key, serving


@pytest.fixture(scope="module")
def issuer():
    test_issuer = TestIssuer()
    with serving(test_issuer.app) as url:
        test_issuer.url = url
        yield test_issuer


@pytest.fixture(scope="module")
def app(issuer, tmp_path_factory, sqlite_template):
    tmp = tmp_path_factory.mktemp("oidc")
    shutil.copy(sqlite_template, tmp / "onewindow.db")
    application = make_app(tmp, f"sqlite:///{tmp / 'onewindow.db'}", oidc_issuer=issuer.url,
                           oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET)
    yield application
    application.extensions["onewindow.db"].dispose()


def start(app, issuer):
    """A browser starts signing in: the app redirects it to the identity service; the issuer learns the
    nonce of this sign-in (as a real one would from the authorization request)."""
    client = app.test_client()
    r = client.get("/online/sign-in")
    assert r.status_code == 302
    params = authorize_params(r.headers["Location"])
    issuer.nonce = params["nonce"]
    return client, params


def callback(client, state: str):
    return client.get("/online/callback", query_string={"code": "test-code", "state": state})


def signed_in(client) -> bool:
    return client.get("/online/cases").status_code == 200


def sessions(app) -> int:
    with app.extensions["onewindow.db"].read() as s:
        return s.scalar(select(func.count()).select_from(ApplicantSession))


def test_a_valid_token_signs_the_applicant_in_with_pkce(app, issuer):
    # Given a sign-in started at the app, and a token the issuer signs as it should
    client, params = start(app, issuer)
    issuer.craft()
    # Then the redirect asked for the code flow with a PKCE S256 challenge, a state and a nonce
    assert urlsplit(params["redirect_uri"]).path == "/online/callback" and params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] and params["state"]
    # When the identity service sends the browser back with the code
    r = callback(client, params["state"])
    # Then the applicant is signed in, and the token request carried the verifier of that challenge
    assert r.status_code == 302 and r.headers["Location"].endswith("/online/cases")
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    sent = issuer.token_requests[-1]
    assert create_s256_code_challenge(sent["code_verifier"]) == params["code_challenge"]
    assert sent["redirect_uri"] == CALLBACK
    page = client.get("/online/cases").get_data(as_text=True)
    assert "王小明" in page and "我的办件" in page


@pytest.mark.parametrize("why, craft", [
    ("nonce", lambda i: i.craft(nonce="another-sign-in's-nonce")),
    ("another key", lambda i: i.craft(signing_key=new_key())),
    ("another key under our kid", lambda i: i.craft(signing_key=new_key(), header={"kid": i.key.kid})),
    ("audience", lambda i: i.craft(aud="another-client")),
    ("audience, though azp names us", lambda i: i.craft(aud="another-client", azp=CLIENT_ID)),
    ("audiences without us", lambda i: i.craft(aud=["another-client", "a-third"], azp=CLIENT_ID)),
    ("issuer", lambda i: i.craft(iss="http://127.0.0.1:1/another-issuer")),
    ("expired", lambda i: i.craft(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    ("no nonce", lambda i: i.craft(nonce=None)),
])
def test_the_client_refuses_a_token_that_fails_a_check(app, issuer, why, craft):
    # Given a sign-in started at the app, and an ID token crafted wrong in one way only
    client, params = start(app, issuer)
    craft(issuer)
    before = sessions(app)
    # When the identity service sends the browser back
    r = callback(client, params["state"])
    # Then the sign-in is refused with a clear page, nobody is signed in, and the refusal is audited
    assert r.status_code == 401, why
    assert "登录未完成" in r.get_data(as_text=True)
    assert sessions(app) == before and not signed_in(client)
    with app.extensions["onewindow.db"].read() as s:
        assert s.scalar(select(AuditEntry.event).order_by(AuditEntry.id.desc()).limit(1)) == "applicant_sign_in_refused"


def test_the_client_refuses_a_wrong_state(app, issuer):
    # Given a sign-in started in this browser, and a valid token
    client, params = start(app, issuer)
    issuer.craft()
    asked = len(issuer.token_requests)
    # When the callback comes with a state this browser never sent (a forged or replayed callback)
    r = callback(client, params["state"] + "x")
    # Then it is refused before any code is exchanged
    assert r.status_code == 401 and "state" in r.get_data(as_text=True)
    assert len(issuer.token_requests) == asked and not signed_in(client)


def test_a_callback_is_good_once(app, issuer):
    # Given a sign-in that went through
    client, params = start(app, issuer)
    issuer.craft()
    assert callback(client, params["state"]).status_code == 302
    # When the same callback is replayed in another browser
    other = app.test_client()
    # Then it is refused: the state was this browser's and is spent
    assert callback(other, params["state"]).status_code == 401 and not signed_in(other)


@pytest.mark.parametrize("claims, field", [
    ({"id_number": "110101199003071234"}, "id_token.id_number"),  # the check character fails (GB 11643)
    ({"id_number": None}, "id_token.id_number"),
    ({"organizations": ["91350100M000100Y4Z"]}, "id_token.organizations[0].code"),  # fails GB 32100
])
def test_a_token_whose_numbers_fail_the_windows_checks_is_refused(app, issuer, claims, field):
    # Given a correctly signed token whose ID number or credit code fails its check
    client, params = start(app, issuer)
    issuer.craft(**claims)
    # When the browser comes back
    r = callback(client, params["state"])
    # Then a clear page says what was wrong, and nobody is signed in
    page = r.get_data(as_text=True)
    assert r.status_code == 401 and "登录未完成" in page and ("校验位" in page or "未提供" in page), page
    assert not signed_in(client)


def test_applicant_sessions_are_not_staff_sessions(app, issuer):
    # Given an applicant signed in
    client, params = start(app, issuer)
    issuer.craft()
    callback(client, params["state"])
    # When they open staff pages and the staff API
    # Then the pages send them to the staff log-in and the API does not know them
    assert client.get("/tasks").status_code == 302 and "/login" in client.get("/tasks").headers["Location"]
    assert client.get("/window/").headers["Location"].split("?")[0].endswith("/login")
    assert client.get("/api/me").status_code == 401
