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

from engine import audit
from engine.db import Database, UnitOfWork
from engine.errors import Conflict, Forbidden, Invalid, OneWindowError, Problem, Unauthorized
from engine.identity import Actor, cached_actor_for_token

log = logging.getLogger(__name__)
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


def _load_actor() -> Actor | None:
    header = request.environ.get("HTTP_AUTHORIZATION", "")  # the header, without building request.headers
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    if token is None:
        token = session.get("token")
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
    with no Cookie header at all does not even have its cookies parsed."""

    def open_session(self, app: Flask, request):  # type: ignore[override]
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or self.get_cookie_name(app) not in request.cookies):
            return self.session_class()
        return super().open_session(app, request)


def record_refusal(why: str, case_no: str | None = None) -> None:
    """Record a refused permission in the audit log (a security event), in a transaction of its own:
    the request's own work is refused and rolled back. Every 403 comes here; so does a case the
    policy hides from someone not involved in it (answered 404)."""
    actor: Actor | None = g.get("actor")
    audit.security_event_now(
        database(), audit.PERMISSION_REFUSED, username=actor.username if actor else None,
        display_name=actor.display_name if actor else "", client=client_address(), case_no=case_no,
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
        if not wants_json():
            from flask import render_template

            return render_template("error.html", status=exc.status, title=exc.title, detail=str(exc),
                                   problems=extra.get("problems", [])), exc.status
        return problem(exc.status, exc.title, str(exc), **extra)

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
