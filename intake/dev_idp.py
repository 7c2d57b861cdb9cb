"""A small OpenID Connect provider for development and tests (`onewindow dev-idp`), standing in for the
province's identity service (统一身份认证). Never part of `serve`: it runs only when asked, as its own
process, on the loopback interface unless forced, and its test identities sign in with one click.

Authlib's authorization server does the protocol: the authorization code grant with PKCE (S256 is
required here), OpenID Connect's ID token (nonce required), client authentication by secret; the ID
tokens are signed with an RSA key made at start (joserfc), published at ``/jwks``. What is written
here is only what a real service holds elsewhere: the clients, the identities, the codes in memory.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import click
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from joserfc.jwk import KeySet, RSAKey

CODE_SECONDS = 300
ID_TOKEN_SECONDS = 600
SCOPES = ("openid", "profile", "phone")


@dataclass(frozen=True)
class Identity:
    """A test person as the identity service would vouch for them (the claims of their ID token)."""

    key: str
    label: str
    claims: dict[str, Any]


IDENTITIES = (
    Identity("wang", "王小明（个人）", {"id_number": "110101199003071233", "name": "王小明",
                                        "phone_number": "13912345678"}),
    Identity("li", "李秀英（个人）", {"id_number": "11010519491231002X", "name": "李秀英",
                                      "phone_number": "13700137000"}),
    Identity("zhang", "张伟（示范餐饮管理有限公司法定代表人，另为示范科技有限公司经办人）", {
        "id_number": "110102198001010017", "name": "张伟", "phone_number": "13800138000",
        "organizations": [
            {"code": "91350100M000100Y43", "name": "示范餐饮管理有限公司", "role": "legal_representative"},
            {"code": "91110105MA00000A1C", "name": "示范科技有限公司", "role": "agent"}]}),
    Identity("zhao", "赵敏（以示范餐饮管理有限公司经办人身份登录）", {
        "id_number": "110105198503150027", "name": "赵敏", "phone_number": "13600136000",
        "organizations": "91350100M000100Y43"}),
    Identity("bad", "号码校验失败示例（登录应被拒绝）", {"id_number": "110101199003071234", "name": "校验失败",
                                                     "phone_number": "13500135000"}),
)


@dataclass(frozen=True)
class DevClient(ClientMixin):
    """A relying party registered with the provider (onewindow itself)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact match, as a real service must

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    identity: str
    auth_time: int
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


@dataclass
class State:
    """Everything the provider remembers: its key, its clients, its identities, the codes given out."""

    issuer: str
    key: RSAKey
    clients: dict[str, DevClient]
    identities: dict[str, Identity]
    codes: dict[str, Code] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        state: State = self.server.state
        data = request.payload.data
        with state.lock:
            state.codes[code] = Code(code, request.client.get_client_id(), request.payload.redirect_uri,
                                     request.payload.scope, data.get("nonce"), data.get("code_challenge"),
                                     data.get("code_challenge_method"), request.user.key, int(time.time()),
                                     time.monotonic() + CODE_SECONDS)

    def query_authorization_code(self, code, client):
        state: State = self.server.state
        with state.lock:
            found = state.codes.get(code)
        if found is None or found.client_id != client.get_client_id() or found.expires_at < time.monotonic():
            return None
        return found

    def delete_authorization_code(self, authorization_code):
        state: State = self.server.state
        with state.lock:  # a code is good once
            state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return self.server.state.identities.get(authorization_code.identity)


class _OpenIDCode(OpenIDCode):
    def __init__(self, state: State):
        super().__init__(require_nonce=True)
        self.state = state

    def exists_nonce(self, nonce, request):
        with self.state.lock:
            return any(c.nonce == nonce for c in self.state.codes.values())

    def resolve_client_private_key(self, client):
        return self.state.key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_client_claims(self, client):
        return {"iss": self.state.issuer, "aud": [client.get_client_id()],
                "exp": int(time.time()) + ID_TOKEN_SECONDS}

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.state.key.kid}

    def generate_user_info(self, user: Identity, scope):
        return UserInfo(sub=f"dev-{user.key}", **user.claims)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_provider(issuer: str, clients: list[DevClient], identities: tuple[Identity, ...] = IDENTITIES,
                    key: RSAKey | None = None) -> Flask:
    """The provider as a Flask app of its own (serve it with any WSGI server)."""
    app = Flask(__name__, template_folder="templates")
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    # Cookies are per host, not per port: on 127.0.0.1 beside the app, a cookie named like the app's
    # "session" would overwrite the app's (and the sign-in state in it)
    app.config["SESSION_COOKIE_NAME"] = "dev_idp_session"
    state = State(issuer.rstrip("/"), key or RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"},
                                                                  auto_kid=True),
                  {c.client_id: c for c in clients}, {i.key: i for i in identities})
    server = AuthorizationServer(app, query_client=state.clients.get, save_token=lambda token, req: None)
    server.state = state  # type: ignore[attr-defined]
    server.register_grant(_CodeGrant, [_OpenIDCode(state), CodeChallenge(required=True)])
    app.extensions["dev_idp.state"] = state
    csrf = CSRFProtect(app)  # its sign-in form: another site cannot sign a visitor in through it

    @app.errorhandler(CSRFError)
    def _stale(exc: CSRFError):
        return render_template("dev_idp/error.html", error=f"the sign-in form is stale: {exc.description}"), 400

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify({
            "issuer": state.issuer, "authorization_endpoint": f"{state.issuer}/authorize",
            "token_endpoint": f"{state.issuer}/token", "jwks_uri": f"{state.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "phone_number", "id_number", "organizations"]})

    @app.get("/jwks")
    def jwks():
        return jsonify(KeySet([state.key]).as_dict(private=False))

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        params = request.values
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return render_template("dev_idp/error.html", error="PKCE (S256) is required by this provider"), 400
        chosen = state.identities.get(params.get("identity", "")) if request.method == "POST" else None
        try:
            grant = server.get_consent_grant(end_user=chosen)
        except OAuth2Error as exc:
            return render_template("dev_idp/error.html", error=f"{exc.error}: {exc.description}"), 400
        if chosen is None:
            carried = {k: v for k, v in params.items() if k not in ("identity", "csrf_token")}
            return render_template("dev_idp/sign_in.html", identities=identities, params=carried,
                                   client=grant.client.get_client_id())
        return server.create_authorization_response(grant_user=chosen, grant=grant)

    @app.post("/token")
    @csrf.exempt  # called by the client's server with its secret, not by a browser
    def token():
        return server.create_token_response()

    return app


DEV_CLIENT_ID = "onewindow-dev"
DEV_CLIENT_SECRET = "onewindow-dev-secret"  # published: this provider is for development only
DEV_REDIRECT_URIS = ("http://127.0.0.1:8000/online/callback", "http://localhost:8000/online/callback")


@click.command("dev-idp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, type=int, show_default=True)
@click.option("--issuer", default=None, help="the issuer URL it names (default: http://HOST:PORT)")
@click.option("--client-id", default=DEV_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=DEV_CLIENT_SECRET, show_default=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="the client's callback, exactly (repeat; default: onewindow on 127.0.0.1:8000 and localhost:8000)")
@click.option("--force", is_flag=True, help="serve on a host that is not loopback (never in production)")
def dev_idp_command(host: str, port: int, issuer: str | None, client_id: str, client_secret: str,
                    redirect_uris: tuple[str, ...], force: bool) -> None:
    """A development OpenID Connect provider with test identities (统一身份认证 stand-in). Never for production."""
    import signal

    from werkzeug.serving import make_server

    if not is_loopback(host) and not force:
        raise click.ClickException(f"dev-idp serves test identities that sign in with one click: it refuses "
                                   f"{host}, which is not a loopback address (--force to insist, never in production)")
    issuer = (issuer or f"http://{host}:{port}").rstrip("/")
    client = DevClient(client_id, client_secret, tuple(redirect_uris) or DEV_REDIRECT_URIS)
    server = make_server(host, port, create_provider(issuer, [client]), threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    click.echo(f"onewindow dev-idp (development only) at {issuer}; for onewindow set\n"
               f"  ONEWINDOW_OIDC_ISSUER={issuer} ONEWINDOW_OIDC_CLIENT_ID={client_id} "
               f"ONEWINDOW_OIDC_CLIENT_SECRET={client_secret}\n"
               f"  redirect URIs: {', '.join(client.redirect_uris)}", err=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
