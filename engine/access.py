"""Every route declares the policy rule that guards it; a route that declares none is refused.

``@guard(CASE)`` on a view names its rule; :func:`init_app` checks it before any view runs. A new route
without a rule answers 403 to everyone (default deny) and fails the URL-map matrix test
(tests/e2e/test_authorization_matrix.py), so it cannot slip through unguarded.

A rule checks what can be known from the request alone: signed in, an administrator, the front desk,
and, for routes that name a case (``case_no``) or a task (``task_id``), whether the actor may read that
case (404 otherwise, as if it did not exist). What depends on the action's own facts (the process's
starters, the message's senders, the task's state, the clock's department) the service asks
``engine.policy`` / ``engine.task_state`` itself.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, redirect, request, url_for

from engine import involvement, policy
from engine.errors import Forbidden, NotFound, Unauthorized
from engine.identity import Actor
from engine.web import (
    current_actor,
    current_applicant,
    optional_actor,
    optional_applicant,
    reading,
    record_refusal,
    wants_json,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """A named access rule: whether it needs someone signed in, and what it checks then.

    A staff rule (the default) needs a staff user (:class:`Actor`); an ``applicant`` rule needs an
    applicant signed in through the identity service (:class:`OnlineApplicant`), and its checks get
    that applicant. Neither kind of principal ever passes the other kind's rules.
    """

    name: str
    signed_in: bool = True
    checks: tuple[Callable[[Any, dict[str, Any]], None], ...] = ()
    applicant: bool = False

    def enforce(self, view_args: dict[str, Any]):
        if not self.signed_in:
            for check in self.checks:
                check(None, view_args)
            return None
        principal = optional_applicant() if self.applicant else optional_actor()
        if principal is None:
            if wants_json():
                if self.applicant:
                    current_applicant()  # raises Unauthorized
                current_actor()  # raises Unauthorized with how to sign in
            return redirect(url_for(self._sign_in_endpoint(), next=request.path))
        for check in self.checks:
            check(principal, view_args)
        return None

    def _sign_in_endpoint(self) -> str:
        if not self.applicant:
            return "shell.login"
        endpoint = current_app.extensions.get(APPLICANT_SIGN_IN)
        if endpoint is None:  # no identity service configured: nobody can sign in as an applicant
            raise Unauthorized("applicants cannot sign in here: no identity service (ONEWINDOW_OIDC_ISSUER) is set")
        return endpoint


# The endpoint of the applicants' sign-in page, registered by the package that holds it (intake).
APPLICANT_SIGN_IN = "engine.applicant_sign_in"


def _administrator(actor: Actor | None, _args: dict[str, Any]) -> None:
    if actor is None or not policy.may_administer(actor):
        raise Forbidden("only administrators may do this")


def _designer(actor: Actor | None, _args: dict[str, Any]) -> None:
    if actor is None or not policy.may_design(actor):
        raise Forbidden("only process designers and administrators may do this")


def _migrator(actor: Actor | None, _args: dict[str, Any]) -> None:
    if actor is None or not policy.may_migrate(actor):
        raise Forbidden("only administrators may migrate running cases")


def _oversees(actor: Actor | None, _args: dict[str, Any]) -> None:
    if actor is None or not policy.oversees(actor):
        raise Forbidden("only the office's supervisors may read its figures")


def _front_desk(actor: Actor | None, _args: dict[str, Any]) -> None:
    if actor is None or not policy.is_front_desk(actor):
        raise Forbidden("only the front desk (综合窗口) may do this")


def _reads_case(actor: Actor | None, args: dict[str, Any]) -> None:
    with reading() as s:
        _case_id, facts = involvement.case_facts_by_no(s, str(args.get("case_no", "")))
    if not policy.may_read_case(actor, facts):
        record_refusal("not involved in the case (answered 404)", case_no=facts.case_no)
        raise NotFound(f"no case {args.get('case_no')}")


def _reads_task(actor: Actor | None, args: dict[str, Any]) -> None:
    task_id = str(args.get("task_id", ""))
    with reading() as s:
        facts = involvement.task_case_facts(s, task_id)
    if not policy.may_read_case(actor, facts):
        record_refusal("not involved in the task's case (answered 404)", case_no=facts.case_no)
        raise NotFound(f"no task {task_id}")


def _metrics_scraper(_actor: Actor | None, _args: dict[str, Any]) -> None:
    """With ONEWINDOW_METRICS_TOKEN set, whoever sends it as a bearer token; without one, a request made
    directly on the loopback interface (a reverse proxy on the same host does not make the public local)."""
    token = current_app.config["ONEWINDOW"].metrics_token
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if hmac.compare_digest(given.encode(), token.encode()):
            return
    elif request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers:
        return
    raise Forbidden("metrics: send ONEWINDOW_METRICS_TOKEN as a bearer token, or ask from this host")


LOOPBACK = {"127.0.0.1", "::1"}
PUBLIC = Rule("public", signed_in=False)
METRICS = Rule("metrics scraper", signed_in=False, checks=(_metrics_scraper,))
SIGNED_IN = Rule("signed in")  # the service scopes what it shows to the actor (lists, alerts, me)
ADMIN = Rule("administrator", checks=(_administrator,))
DESIGNER = Rule("process designer", checks=(_designer,))
MIGRATOR = Rule("migrates running cases", checks=(_migrator,))
OVERSEES = Rule("office or department supervisor", checks=(_oversees,))
FRONT_DESK = Rule("front desk", checks=(_front_desk,))
CASE = Rule("reads the case", checks=(_reads_case,))
FRONT_DESK_CASE = Rule("front desk, reads the case", checks=(_reads_case, _front_desk))
TASK = Rule("reads the task's case", checks=(_reads_task,))
# An applicant signed in through the identity service; the service shows them only what they own
# (engine.policy.applicant_owns). Rules on one applicant's case, file or certificate are declared by
# the package that knows who holds it (intake), with ``applicant=True`` and a check asking that rule.
APPLICANT = Rule("signed-in applicant", applicant=True)
# Decided by the service from the process definition: its starters (POST /api/cases) and the
# message's deliverableBy (which answers 404 to those who may not read the case).
STARTS_CASE = Rule("process starters")
DELIVERS_MESSAGE = Rule("message senders")

RULES = (PUBLIC, METRICS, SIGNED_IN, ADMIN, DESIGNER, MIGRATOR, OVERSEES, FRONT_DESK, CASE, FRONT_DESK_CASE,
         TASK, STARTS_CASE, DELIVERS_MESSAGE, APPLICANT)


def guard(rule: Rule) -> Callable:
    """Declare the rule that guards a view (the view itself is returned unchanged)."""

    def mark(view: Callable) -> Callable:
        view.__access_rule__ = rule  # type: ignore[attr-defined]
        return view

    return mark


def rule_of(view: Callable | None) -> Rule | None:
    return getattr(view, "__access_rule__", None)


def _enforce():
    if request.endpoint is None:  # no such route: Flask answers 404 / 405 itself
        return None
    rule = rule_of(current_app.view_functions.get(request.endpoint))
    if rule is None:
        log.error("route %s declares no access rule: refused", request.endpoint)
        raise Forbidden("this route declares no access rule")
    return rule.enforce(request.view_args or {})


def init_app(app: Flask) -> None:
    # Before every blueprint's own hooks: nothing of a feature runs for a refused request.
    app.before_request_funcs.setdefault(None, []).insert(0, _enforce)
