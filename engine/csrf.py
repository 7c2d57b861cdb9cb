"""Cross-site request forgery: a page's form works only when it was served by this site.

The pages sign in with a session cookie, which a browser sends with any request, even one another
site makes it send. So every state-changing page request (POST and the like, outside ``/api/``) must
carry the form's CSRF token (Flask-WTF: a signed value tied to the session, rendered into every form
by ``csrf_token()``), and, when the browser names where the request comes from (``Origin``,
``Sec-Fetch-Site``), come from this site. Either failing changes nothing.

The API is exempt because a state-changing API call never signs in with the cookie (engine/web.py):
it needs an ``Authorization: Bearer`` header, which no other site can make a browser send; so is any
request that carries such a header (it signs in with the header alone).
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from engine.errors import Forbidden

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MESSAGE = "页面已过期或来源不明，请刷新页面后重试 / the form is stale or not from this site: reload the page and retry"

csrf = CSRFProtect()


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _same_site() -> bool:
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/").lower() != f"{request.scheme}://{request.host}".lower():
        return False  # includes "null": sandboxed frames, file: pages, cross-site redirects
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _has_bearer_token() -> bool:
    # such a request signs in with the header alone (engine/web.py), never with the cookie
    header = request.environ.get("HTTP_AUTHORIZATION", "")
    return header[:7].lower() == "bearer " and bool(header[7:].strip())


def _protect() -> None:
    if request.method not in UNSAFE_METHODS or is_api_request() or _has_bearer_token():
        return
    if not _same_site():
        raise Forbidden(MESSAGE)
    csrf.protect()  # raises CSRFError when the token is missing, forged or from another session


def init_app(app: Flask) -> None:
    # Checked by _protect (pages only), not by Flask-WTF on every view; a token lives as long as the
    # session it belongs to, which the idle time-out ends (engine/web.py).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.before_request(_protect)

    @app.errorhandler(CSRFError)
    def _refused(exc: CSRFError):
        return render_template("error.html", status=400, title="Bad request", detail=MESSAGE,
                               problems=[{"field": "csrf_token", "message": exc.description}]), 400
