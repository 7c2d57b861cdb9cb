"""A test issuer on loopback that answers the token request with whatever ID token a test crafted, and
the dev-idp served in a thread: the identity services the OIDC client's tests sign in against.

``TestIssuer`` publishes its discovery document and its key at ``/jwks``; the ID token its token
endpoint returns is built from ``claims`` (the test's changes merged into a valid token for the
nonce of the pending sign-in) and signed with ``signing_key`` (its own key unless a test swaps it).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "onewindow-test"
CLIENT_SECRET = "test-client-secret"
CALLBACK = "http://localhost/online/callback"  # the Flask test client's host


@contextmanager
def serving(app: Flask):
    """Serve a WSGI app on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-issuer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)


class TestIssuer:
    """An OpenID provider whose ID token each test crafts."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.key = new_key()
        self.url = ""
        self.signing_key = self.key
        self.header: dict[str, Any] = {}
        self.changes: dict[str, Any] = {}
        self.nonce: str | None = None
        self.token_requests: list[dict[str, str]] = []
        self.app = Flask("test_issuer")
        self.app.add_url_rule("/.well-known/openid-configuration", "discovery", self._discovery)
        self.app.add_url_rule("/jwks", "jwks", lambda: jsonify(KeySet([self.key]).as_dict(private=False)))
        self.app.add_url_rule("/token", "token", self._token, methods=["POST"])

    def _discovery(self):
        return jsonify({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                        "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"]})

    def valid_claims(self, **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.url, "sub": "test-subject-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                "nonce": self.nonce, "id_number": "110101199003071233", "name": "王小明",
                "phone_number": "13912345678", **claims}

    def _token(self):
        self.token_requests.append(request.form.to_dict())
        claims = {k: v for k, v in self.valid_claims(**self.changes).items() if v is not None}
        header = {"alg": "RS256", "kid": self.signing_key.kid, **self.header}
        id_token = jwt.encode(header, claims, self.signing_key)
        return jsonify({"access_token": "test-access-token", "token_type": "Bearer", "expires_in": 300,
                        "scope": "openid profile phone", "id_token": id_token})

    def craft(self, *, signing_key: RSAKey | None = None, header: dict[str, Any] | None = None,
              **changes: Any) -> None:
        """What the next token answer holds: claims changed (None removes one), another key, header."""
        self.signing_key = signing_key or self.key
        self.header = header or {}
        self.changes = changes


def authorize_params(location: str) -> dict[str, str]:
    """The query of the redirect to the authorization endpoint (state, nonce, code_challenge...)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dev_idp_process(*redirect_uris: str, port: int | None = None):
    """`onewindow dev-idp` as its own process on loopback; yields its issuer URL once it answers."""
    import subprocess
    import sys
    import urllib.request

    port = port or free_port()
    args = [sys.executable, "-m", "onewindow.cli", "dev-idp", "--port", str(port)]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    raise RuntimeError(f"dev-idp did not start: {output}") from None
                time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


HIDDEN = __import__("re").compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def through_dev_idp(client, identity: str, next_path: str | None = None):
    """Sign a Flask test client in at the app through the dev-idp, choosing ``identity`` on its page as a
    person would; returns the app's answer to the callback."""
    import html

    import requests

    r = client.get("/online/sign-in", query_string={"next": next_path} if next_path else None)
    assert r.status_code == 302, r.get_data(as_text=True)
    with requests.Session() as browser:  # the provider's own cookie carries its form's CSRF token
        page = browser.get(r.headers["Location"], timeout=10)
        assert page.status_code == 200, page.text
        form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
        authorize = r.headers["Location"].split("?")[0]
        back = browser.post(authorize, data={**form, "identity": identity}, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    location = urlsplit(back.headers["Location"])
    return client.get(location.path, query_string=location.query)
