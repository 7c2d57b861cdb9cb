"""The OpenID Connect client of the province's identity service (统一身份认证), by Authlib's Flask client.

Authorization code flow with PKCE (S256). Between the redirect and the callback Authlib keeps the
state, the nonce and the code verifier in the (signed) session cookie; on the callback it checks the
state, exchanges the code at the token endpoint with the verifier and the client secret, and checks
the ID token: signed by a key of the issuer's published JWKS, by the issuer of the discovery document,
for this client (audience), not expired (``LEEWAY_SECONDS`` allowed for clocks), with our nonce. Any
failure refuses the sign-in; nothing of the claims is used before all of it has passed. The claims
are then checked as at the window (``intake.claims``).

Configured by ONEWINDOW_OIDC_* (onewindow/config.py); without an issuer nobody signs in as an applicant.
"""

from __future__ import annotations

import logging

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from joserfc.errors import JoseError

from engine import clock, office
from engine.applicants import OnlineApplicant
from engine.errors import OneWindowError
from intake.claims import ClaimNames, applicant_from_claims

log = logging.getLogger(__name__)
PROVIDER = "identity"
LEEWAY_SECONDS = 60
_OAUTH = "intake.oidc"


class SignInRefused(OneWindowError):
    """The identity service's answer did not pass a check: nobody is signed in."""

    status = 401
    title = "Sign-in refused"


class IdentityServiceUnavailable(OneWindowError):
    """The identity service cannot be reached, or says something other than what is configured."""

    status = 503
    title = "Identity service unavailable"


def issuer_of(app: Flask) -> str | None:
    return app.config["ONEWINDOW"].oidc_issuer


def init_app(app: Flask) -> None:
    """Register the identity service as Authlib's client, when ONEWINDOW_OIDC_ISSUER is set."""
    settings = app.config["ONEWINDOW"]
    if not settings.oidc_issuer:
        return
    if not settings.oidc_client_id:
        raise ValueError("ONEWINDOW_OIDC_CLIENT_ID must be set with ONEWINDOW_OIDC_ISSUER")
    if "openid" not in settings.oidc_scope.split():
        raise ValueError(f"ONEWINDOW_OIDC_SCOPE must include openid, not {settings.oidc_scope!r}")
    oauth = OAuth(app)
    oauth.register(
        PROVIDER, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256",
                       "default_timeout": settings.oidc_timeout_seconds})
    app.extensions[_OAUTH] = oauth


def configured() -> bool:
    return _OAUTH in current_app.extensions


def _client():
    if not configured():
        raise IdentityServiceUnavailable("本中心未接入统一身份认证 / no identity service is configured here "
                                         "(ONEWINDOW_OIDC_ISSUER)")
    client = current_app.extensions[_OAUTH].create_client(PROVIDER)
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        log.warning("identity service discovery failed: %s", exc)
        raise IdentityServiceUnavailable("统一身份认证暂时无法访问，请稍后重试 / the identity service cannot be "
                                         "reached: try again later") from None
    configured_issuer = issuer_of(current_app)
    if (metadata.get("issuer") or "").rstrip("/") != (configured_issuer or "").rstrip("/"):
        # OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it came from
        log.error("identity service discovery names issuer %r, configured %r", metadata.get("issuer"),
                  configured_issuer)
        raise IdentityServiceUnavailable("统一身份认证的配置不一致 / the identity service's discovery document names "
                                         "another issuer than ONEWINDOW_OIDC_ISSUER")
    return client


def begin(redirect_uri: str):
    """The redirect to the identity service's sign-in (state, nonce and PKCE challenge included)."""
    client = _client()
    try:
        return client.authorize_redirect(redirect_uri)
    except (requests.RequestException, RuntimeError) as exc:
        log.warning("identity service authorization redirect failed: %s", exc)
        raise IdentityServiceUnavailable("统一身份认证暂时无法访问，请稍后重试 / the identity service cannot be "
                                         "reached: try again later") from None


def _refused(why: str) -> SignInRefused:
    return SignInRefused(f"统一身份认证登录未完成，请重新登录 / the sign-in through the identity service was "
                         f"refused: {why}")


def finish() -> OnlineApplicant:
    """The applicant the identity service's callback vouches for, every check passed.

    Raises SignInRefused (a wrong state, nonce, signature, audience, issuer, an expired token, an
    error from the service, claims that fail the window's checks) or IdentityServiceUnavailable.
    """
    client = _client()
    # OpenID Connect Core 3.1.3.7: the token must name us among its audiences, whatever its azp says
    # (Authlib alone accepts another audience when azp names us), and come from the discovered issuer.
    must = {"iss": {"essential": True, "values": [client.load_server_metadata()["issuer"]]},
            "aud": {"essential": True, "values": [client.client_id]}}
    try:
        token = client.authorize_access_token(leeway=LEEWAY_SECONDS, claims_options=must)
    except MismatchingStateError:
        raise _refused("the state does not match this browser's sign-in (stale, replayed or forged)") from None
    except OAuthError as exc:
        raise _refused(f"the identity service answered {exc.error or 'an error'}"
                       f"{': ' + exc.description if exc.description else ''}") from None
    except JoseError as exc:
        raise _refused(f"the ID token did not pass its checks ({exc})") from None
    except requests.RequestException as exc:
        log.warning("identity service token request failed: %s", exc)
        raise IdentityServiceUnavailable("统一身份认证暂时无法访问，请稍后重试 / the identity service cannot be "
                                         "reached: try again later") from None
    claims = token.get("userinfo")
    if not claims:
        raise _refused("the identity service sent no ID token")
    settings = current_app.config["ONEWINDOW"]
    names = ClaimNames(settings.oidc_id_claim, settings.oidc_name_claim, settings.oidc_phone_claim,
                       settings.oidc_org_claim)
    return applicant_from_claims(claims, names, claims.get("iss") or "",
                                 today=clock.now().astimezone(office.zone).date())
