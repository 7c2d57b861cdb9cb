"""`onewindow dev-idp`: the development identity service runs as its own process, only on loopback
unless forced, and signs its test identities in to the app through the real OIDC client."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import requests

from tests.conftest import make_app
from tests.oidc_issuer import CALLBACK, dev_idp_process, through_dev_idp


@pytest.fixture(scope="module")
def dev_idp():
    with dev_idp_process(CALLBACK) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def app(dev_idp, tmp_path_factory, sqlite_template):
    tmp = tmp_path_factory.mktemp("dev_idp")
    shutil.copy(sqlite_template, tmp / "onewindow.db")
    application = make_app(tmp, f"sqlite:///{tmp / 'onewindow.db'}", oidc_issuer=dev_idp,
                           oidc_client_id="onewindow-dev", oidc_client_secret="onewindow-dev-secret")
    yield application
    application.extensions["onewindow.db"].dispose()


def test_it_refuses_a_host_that_is_not_loopback():
    # When it is asked to serve on every interface without --force
    done = subprocess.run([sys.executable, "-m", "onewindow.cli", "dev-idp", "--host", "0.0.0.0", "--port", "1"],
                          capture_output=True, text=True, timeout=60)
    # Then it refuses, saying why
    assert done.returncode != 0 and "not a loopback address" in done.stderr


def test_a_person_signs_in_through_it(app):
    # Given the app configured for the dev-idp
    client = app.test_client()
    # When 王小明 is chosen on its sign-in page
    r = through_dev_idp(client, "wang")
    # Then he is signed in at the app, acting as himself
    assert r.status_code == 302 and r.headers["Location"].endswith("/online/cases")
    page = client.get("/online/cases").get_data(as_text=True)
    assert "王小明 名下的全部办件" in page


def test_a_representative_chooses_the_organisation_they_act_for(app):
    # Given 张伟, whom the identity service vouches for as representative of two organisations
    client = app.test_client()
    r = through_dev_idp(client, "zhang")
    # Then he is asked whom he acts for, the organisations he may choose among listed
    assert r.headers["Location"].split("?")[0].endswith("/online/acting-for")
    page = client.get("/online/acting-for").get_data(as_text=True)
    assert "示范餐饮管理有限公司（法定代表人，91350100M000100Y43）" in page and "示范科技有限公司" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    # When he chooses the restaurant company
    r = client.post("/online/acting-for", data={"code": "91350100M000100Y43", "csrf_token": token},
                    headers={"Origin": "http://localhost"})
    # Then he acts for it
    assert r.status_code == 302
    assert "示范餐饮管理有限公司 名下的全部办件" in client.get("/online/cases").get_data(as_text=True)
    # And a code the identity service did not vouch for is refused, the choice unchanged
    r = client.post("/online/acting-for", data={"code": "91110108MA01ABCD2H", "csrf_token": token},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 403
    assert "示范餐饮管理有限公司 名下的全部办件" in client.get("/online/cases").get_data(as_text=True)


def test_an_agent_signed_in_for_one_organisation_acts_for_it_directly(app):
    # Given 赵敏, signed in by the identity service for one organisation (its code as a plain claim)
    client = app.test_client()
    r = through_dev_idp(client, "zhao")
    # Then she acts for it at once (the claim gives the code alone, which names it: it has no case yet)
    assert r.headers["Location"].endswith("/online/cases")
    page = client.get("/online/cases").get_data(as_text=True)
    assert "91350100M000100Y43 名下的全部办件" in page and "赵敏 代办" in page


def test_an_identity_whose_number_fails_its_check_is_refused(app):
    # When the test identity whose ID number has a wrong check character signs in
    client = app.test_client()
    r = through_dev_idp(client, "bad")
    # Then the app refuses it with a page that names the check
    assert r.status_code == 401 and "校验位" in r.get_data(as_text=True)
    assert client.get("/online/cases").status_code == 302


def test_it_requires_pkce_and_the_registered_callback(dev_idp):
    # When a client asks without a PKCE challenge, or for a callback that is not registered
    base = {"response_type": "code", "client_id": "onewindow-dev", "scope": "openid", "state": "s", "nonce": "n"}
    without = requests.get(f"{dev_idp}/authorize", params={**base, "redirect_uri": CALLBACK}, timeout=10)
    elsewhere = requests.get(f"{dev_idp}/authorize", params={
        **base, "redirect_uri": "http://localhost/elsewhere", "code_challenge_method": "S256",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, timeout=10)
    # Then both are refused at its door
    assert without.status_code == 400 and "PKCE" in without.text
    assert elsewhere.status_code == 400


def test_its_sign_in_form_needs_its_own_csrf_token(app, dev_idp):
    # Given a sign-in started at the app
    r = app.test_client().get("/online/sign-in")
    query = r.headers["Location"].split("?")[1]
    # When another site posts the identity choice straight to the provider (no form token)
    forged = requests.post(f"{dev_idp}/authorize?{query}", data={"identity": "wang"}, allow_redirects=False,
                           timeout=10)
    # Then nobody is signed in: no code goes back to the app
    assert forged.status_code == 400 and "Location" not in forged.headers
