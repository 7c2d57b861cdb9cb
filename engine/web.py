"""What every package's routes share: the unit of work, the acting user, problem details.

Routes stay thin (STYLE habit 5): parse, call one service function, map errors here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from engine import applicants, audit, clock, identity, throttle
from engine.applicants import OnlineApplicant
from engine.csrf import UNSAFE_METHODS
from engine.db import Database, UnitOfWork
from engine.errors import Conflict, Forbidden, Invalid, OneWindowError, Problem, TooManyRequests, Unauthorized
from engine.identity import Actor, cached_actor_for_token

log = logging.getLogger(__name__)
APPLICANT_SIGNED_IN = "applicant_signed_in"
APPLICANT_SIGNED_OUT = "applicant_signed_out"
PROBLEM_JSON = "application/problem+json"


def database() -> Database:
    return current_app.extensions["onewindow.db"]


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    with database().unit_of_work() as uow:
        yield uow


@contextmanager
def reading():
    with database().read() as s:
        yield s


class AuditUnavailable(OneWindowError):
    """The audit row of a view of personal data could not be written, so the data is not shown."""

    status = 503
    title = "Service unavailable"


@contextmanager
def audited() -> Iterator[UnitOfWork]:
    """The unit of work of a request that may show personal data whole (a read that writes: the
    audit rows of ``engine.audit``). Build the response after the block: it runs only once the rows
    have committed. When the database refuses them, 503, and nothing is shown."""
    try:
        with unit_of_work() as uow:
            yield uow
    except SQLAlchemyError as exc:
        log.exception("audited request failed on the database: %s %s", request.method, request.path)
        raise AuditUnavailable("the access could not be recorded in the audit log, so the personal data "
                               "is not shown; try again later") from exc


def client_address() -> str | None:
    """Where the request comes from (behind trusted proxies, the client they name)."""
    return request.remote_addr


def problem(status: int, title: str, detail: str = "", **extra: Any):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def bearer_token() -> str | None:
    """The request's ``Authorization: Bearer`` token, if it has one."""
    header = request.environ.get("HTTP_AUTHORIZATION", "")  # the header, without building request.headers
    return (header[7:].strip() or None) if header[:7].lower() == "bearer " else None


STAFF_TOKEN = "token"  # the page session's keys: a staff user's bearer token ...
APPLICANT_TOKEN = "applicant"  # ... or a signed-in applicant's session token (engine.applicants)


def _session_value(key: str) -> str | None:
    """The page session's token under ``key``, unless the session has been idle too long (then it is
    ended: whatever it held is revoked).

    A state-changing API call never signs in with the cookie: that needs the bearer header, which
    is why the API needs no CSRF token (engine/csrf.py).
    """
    if request.path.startswith("/api/") and request.method in UNSAFE_METHODS:
        return None
    token = session.get(key)
    if not token:
        return None
    now = clock.now().timestamp()
    idle = current_app.config["ONEWINDOW"].session_idle_minutes * 60
    seen = session.get("seen", now)
    if now - seen > idle:
        end_page_session(f"page session idle for more than {idle // 60} minutes")
        session["timed_out"] = True
        return None
    if now - seen >= 60 or "seen" not in session:  # a new cookie at most once a minute
        session["seen"] = int(now)
    return token


def _session_token() -> str | None:
    return _session_value(STAFF_TOKEN)


def end_page_session(why: str) -> None:
    """Revoke whatever the page session holds (a staff token, an applicant's session) and clear it:
    on signing out, on an idle time-out, and before a new sign-in in the same browser."""
    token, applicant_token = session.get(STAFF_TOKEN), session.get(APPLICANT_TOKEN)
    if token:
        sign_out(token, g.get("actor"), why)
    if applicant_token:
        sign_out_applicant(applicant_token, why)
    session.clear()


def _load_actor() -> Actor | None:
    token = bearer_token() or _session_token()
    if not token:
        return None
    db = database()
    return cached_actor_for_token(db.url, token, db.one_statement)



def current_actor() -> Actor:
    if "actor" not in g:
        g.actor = _load_actor()
    if g.actor is None:
        raise Unauthorized("log in first (POST /api/auth/token, then 'Authorization: Bearer <token>')")
    return g.actor


def optional_actor() -> Actor | None:
    try:
        return current_actor()
    except Unauthorized:
        return None


def sign_in(username: str, password: str) -> str:
    """Check a password under the failed sign-in throttle (engine/throttle.py); returns a new token.

    The attempt is counted and committed first, so every process sees it and a refused attempt
    costs no Argon2 hash. Failures and refusals are security events in the audit log. Raises
    TooManyRequests or Unauthorized.
    """
    limits: throttle.Limits = current_app.extensions["engine.sign_in_limits"]
    address = client_address()
    client = throttle.client_key(address)
    now = clock.now()
    try:
        with unit_of_work() as uow:
            throttle.admit(uow.session, username, client, now, limits)
    except TooManyRequests as exc:
        audit.security_event_now(database(), audit.LOGIN_THROTTLED, username=username, client=address,
                                 detail=str(exc))
        raise
    try:
        with unit_of_work() as uow:
            user = identity.authenticate(uow.session, username, password)
            throttle.forgive(uow.session, username, client, now)
            return identity.issue_token(uow.session, user)
    except Unauthorized:
        audit.security_event_now(database(), audit.LOGIN_FAILED, username=username, client=address)
        raise


def sign_out(token: str, actor: Actor | None, why: str) -> None:
    """Revoke ``token`` and record it in the audit log."""
    with unit_of_work() as uow:
        identity.revoke_token(uow.session, token)
        audit.security_event(uow.session, audit.TOKEN_REVOKED, username=actor.username if actor else None,
                             display_name=actor.display_name if actor else "", client=client_address(),
                             detail=why)


def optional_applicant() -> OnlineApplicant | None:
    """The applicant signed in on this page session (统一身份认证), if any; never a staff user."""
    if "applicant" not in g:
        token = _session_value(APPLICANT_TOKEN)
        g.applicant = None
        if token:
            with reading() as s:
                g.applicant = applicants.applicant_for_token(s, token, clock.now())
    return g.applicant


def current_applicant() -> OnlineApplicant:
    found = optional_applicant()
    if found is None:
        raise Unauthorized("请先通过统一身份认证登录 / sign in through the identity service first")
    return found


def sign_in_applicant(applicant: OnlineApplicant) -> None:
    """Start a page session for an applicant the identity service vouched for (whatever the browser's
    session held before is ended first: nothing of it carries over, its CSRF token neither)."""
    end_page_session("another sign-in in the same browser")
    with unit_of_work() as uow:
        token = applicants.open_session(uow.session, applicant, clock.now())
        audit.security_event(uow.session, APPLICANT_SIGNED_IN, username=applicant.audit_name,
                             display_name=applicant.name, client=client_address(),
                             detail=f"signed in through {applicant.issuer}")
    session[APPLICANT_TOKEN] = token
    g.applicant = applicant


def sign_out_applicant(token: str, why: str) -> None:
    """End an applicant's session and record it in the audit log."""
    with unit_of_work() as uow:
        who = applicants.applicant_for_token(uow.session, token, clock.now())
        applicants.close_session(uow.session, token)
        if who is not None:
            audit.security_event(uow.session, APPLICANT_SIGNED_OUT, username=who.audit_name,
                                 display_name=who.name, client=client_address(), detail=why)


def json_body(required: bool = True) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if not required and not request.data:
            return {}
        raise Invalid("the request body must be a JSON object",
                      [Problem("expected application/json object", field="body")])
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", [Problem("expected an object", field="body")])
    return data


def wants_json() -> bool:
    return request.path.startswith("/api/")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the signing set-up on requests that carry no session
    cookie (every API call with a bearer token): those get an empty session at once, and a request
    with no Cookie header at all does not even have its cookies parsed.

    The cookie is ``Secure`` whenever the request came over HTTPS, as the server saw it or as the
    trusted proxies say (ONEWINDOW_TRUSTED_PROXIES), so it is never sent back over plain HTTP.
    """

    def open_session(self, app: Flask, request):  # type: ignore[override]
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or self.get_cookie_name(app) not in request.cookies):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def record_refusal(why: str, case_no: str | None = None) -> None:
    """Record a refused permission in the audit log (a security event), in a transaction of its own:
    the request's own work is refused and rolled back. Every 403 comes here; so does a case the
    policy hides from someone not involved in it (answered 404)."""
    actor: Actor | None = g.get("actor")
    applicant: OnlineApplicant | None = g.get("applicant")
    username, display_name = ((actor.username, actor.display_name) if actor else
                              (applicant.audit_name, applicant.name) if applicant else (None, ""))
    audit.security_event_now(
        database(), audit.PERMISSION_REFUSED, username=username, display_name=display_name,
        client=client_address(), case_no=case_no,
        detail=f"{request.method} {request.path}: {why}")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OneWindowError)
    def _domain(exc: OneWindowError):
        if isinstance(exc, Forbidden):
            record_refusal(str(exc))
        extra: dict[str, Any] = {}
        if isinstance(exc, Invalid):
            extra["problems"] = [p.as_dict() for p in exc.problems]
        if isinstance(exc, Conflict) and exc.holder:
            extra["holder"] = exc.holder
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) and exc.retry_after else {}
        if not wants_json():
            from flask import render_template

            return render_template("error.html", status=exc.status, title=exc.title, detail=str(exc),
                                   problems=extra.get("problems", [])), exc.status, headers
        response = problem(exc.status, exc.title, str(exc), **extra)
        response.headers.update(headers)
        return response

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        return problem(409, "Conflict", "someone else changed this case at the same time; reload and retry")

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError):
        # The database went away under this request (an outage, a terminated backend). The pool has
        # dropped the connection; the next request connects afresh, so this one may simply retry.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc.orig or exc)
        if not wants_json():
            return "数据库暂不可用，请稍后重试 / database unavailable, retry shortly", 503, {"Retry-After": "1"}
        response = problem(503, "Service Unavailable", "the database is unavailable; retry shortly")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not wants_json():
            return exc
        return problem(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            return "内部错误 / internal error", 500
        return problem(500, "Internal Server Error", "an unexpected error was logged")
