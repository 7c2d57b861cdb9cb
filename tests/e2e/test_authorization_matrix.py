"""Every route of the app's URL map against every role, with the expected answer in one table.

The table is held against ``app.url_map``: a route (endpoint and method) missing from it, or a row for
a route that no longer exists, fails the test, so a new route cannot be added without saying who may
use it. Each request is built so that a role the policy lets through meets a later refusal (a stale
version, a missing field, a case not waiting) rather than changing anything: the whole matrix runs on
one seeded office, and after every cell the cases, their tasks and their history are compared with
what they were before (a refused request changes nothing).

Roles: anonymous; the public (no sign-in, but the case number and the last four characters of the ID
number); the applicant signed in through the identity service, acting for the organisation the case
was applied under (统一身份认证: their own case); another signed-in applicant, acting as themselves;
the front desk (window1, who registered the case); the owning caseworker (market1:
the case is at 承办 in market_dept); a caseworker of another department (health1); the department's
supervisor (market_lead); the director (office-wide supervisor); an administrator; an integration
(portal). A process designer (designer1: the designer role, no group) answers every route as the other
department does, except where :data:`DESIGNER` says otherwise. Codes: ``L`` is a redirect to the staff
log-in page, ``S`` to the applicants' sign-in through the identity service; other codes are HTTP statuses.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import applicants, broker, clock, identity
from engine.applicants import OnlineApplicant, Organization
from engine.models import Case, CaseEvent, Task
from intake.dev_idp import DevClient, create_provider
from intake.models import ApplicationMaterial
from tests.conftest import PASSWORD, make_app
from tests.e2e.intake_helpers import (
    FOOD,
    MONDAY,
    ORG_ID,
    PERSON_ID,
    all_food_materials,
    apply,
    decide,
    setup_office,
)
from tests.oidc_issuer import CALLBACK, serving

ROLES = ("anonymous", "public", "applicant", "other_applicant", "front_desk", "owner", "other_dept", "supervisor",
         "director", "admin", "integration")
USERS = {"front_desk": "window1", "owner": "market1", "other_dept": "health1", "supervisor": "market_lead",
         "director": "director", "admin": "admin", "integration": "portal", "designer": "designer1"}
L = "L"  # 302 to the log-in page
S = "S"  # 302 to the applicants' sign-in (统一身份认证)
APPLICANTS = {  # who the identity service vouched for: the case's organisation's representative, a stranger
    "applicant": OnlineApplicant("matrix-idp", "rep", "110102198001010017", "张伟", "13800138000",
                                 (Organization(ORG_ID, "示范餐饮管理有限公司", "legal_representative"),), ORG_ID),
    "other_applicant": OnlineApplicant("matrix-idp", "stranger", PERSON_ID, "王小明", "13912345678"),
}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class R:
    """How to call a route: path values (names of the seeded set), query, JSON or form body, and where the
    public puts the ID tail."""

    args: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    tail: str | None = None  # "query" | "json" | "form": the public adds id_tail there


CREDENTIALS = {"username": "general1", "password": PASSWORD}
VERSION_1 = {"process_id": "one_window", "version": "1"}
MISSING = "999999"
# (endpoint, method): (request, then the answer for each of ROLES in order:
#                       anonymous, public, applicant, other applicant, front desk, owner, other department,
#                       supervisor, director, admin, integration)
TABLE: dict[tuple[str, str], tuple] = {
    # --- the kernel's API
    ("engine_api.token", "POST"): (R(json=CREDENTIALS), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("engine_api.me", "GET"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("engine_api.logout", "POST"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("engine_api.deploy", "POST"): (R(), 401, 401, 401, 401, 403, 403, 403, 403, 403, 422, 403),
    ("engine_api.list_definitions", "GET"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("engine_api.migrate", "POST"): (R(args={"process_id": "one_window"}, json={"to_version": 999}),
                                     401, 401, 401, 401, 403, 403, 403, 403, 403, 404, 403),
    ("engine_api.start_case", "POST"): (R(json={"process_id": "one_window", "data": {"__class__": 1}}),
                                        401, 401, 401, 401, 422, 403, 403, 403, 403, 403, 422),
    ("engine_api.get_case", "GET"): (R(), 401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    ("engine_api.message", "POST"): (R(args={"name": "materials_supplemented"}, json={"payload": {}}),
                                     401, 401, 401, 401, 409, 403, 404, 403, 403, 403, 404),
    ("engine_api.cancel", "POST"): (R(args={"case_no": "cancelled_no"}, json={}),
                                    401, 401, 401, 401, 403, 403, 403, 403, 403, 409, 403),
    ("engine_api.flagged_cases", "GET"): (R(), 401, 401, 401, 401, 403, 403, 403, 403, 403, 200, 403),
    ("engine_api.clear_flag", "POST"): (R(json={}), 401, 401, 401, 401, 403, 403, 403, 403, 403, 422, 403),
    ("engine_api.audit_log", "GET"): (R(), 401, 401, 401, 401, 403, 403, 403, 403, 403, 200, 403),
    ("engine_api.audit_export", "GET"): (R(), 401, 401, 401, 401, 403, 403, 403, 403, 403, 200, 403),
    ("engine_api.openapi", "GET"): (R(), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # --- diagrams: a version's files and lint results (designers), a case's position (who reads the case)
    ("diagram_api.version_diagram", "GET"): (R(args=VERSION_1), 401, 401, 401, 401, 403, 403, 403, 403, 403, 200, 403),
    ("diagram_api.case_diagram", "GET"): (R(), 401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    # --- the designer's pages, and the static files pages load (the viewers: nothing personal)
    ("designer.definitions_page", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("designer.version_page", "GET"): (R(args=VERSION_1), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("designer.deploy_page", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("designer.deploy_page", "POST"): (R(form={}), L, L, L, L, 403, 403, 403, 403, 403, 422, 403),
    ("designer.migrate_page", "POST"): (R(args=VERSION_1, form={"dry_run": "1"}), L, L, L, L, 403, 403, 403, 403, 403,
                                        200, 403),
    ("designer.asset", "GET"): (R(args={"filename": "designer/diagram.js"}),
                                200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # --- the shell's pages
    ("shell.home", "GET"): (R(), L, L, L, L, 302, 302, 302, 302, 302, 302, 302),
    ("shell.login", "GET"): (R(), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("shell.login", "POST"): (R(form=CREDENTIALS), 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    ("shell.logout", "POST"): (R(form={}), L, L, L, L, L, L, L, L, L, L, L),
    ("shell.flagged", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("shell.flagged", "POST"): (R(form={"case_no": "", "note": ""}), L, L, L, L, 403, 403, 403, 403, 403, 422, 403),
    ("shell.audit_log", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    # --- the administrators' pages (a missing account: nothing the other cells sign in with is touched)
    ("admin.index", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("admin.users", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("admin.add_user", "POST"): (R(form={}), L, L, L, L, 403, 403, 403, 403, 403, 422, 403),
    ("admin.user", "GET"): (R(args={"username": "general1"}), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("admin.change_user", "POST"): (R(args={"username": "general1"}, form={}),
                                    L, L, L, L, 403, 403, 403, 403, 403, 422, 403),
    ("admin.set_active", "POST"): (R(args={"username": "nobody"}, form={}),
                                   L, L, L, L, 403, 403, 403, 403, 403, 404, 403),
    ("admin.reset_password", "POST"): (R(args={"username": "nobody"}, form={}),
                                       L, L, L, L, 403, 403, 403, 403, 403, 404, 403),
    ("admin.groups", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("intake_admin.catalog", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("intake_admin.load", "POST"): (R(form={}), L, L, L, L, 403, 403, 403, 403, 403, 422, 403),
    ("intake_admin.item", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    ("sla_admin.calendar", "GET"): (R(), L, L, L, L, 403, 403, 403, 403, 403, 200, 403),
    # --- intake's API
    ("intake_api.list_services", "GET"): (R(), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("intake_api.get_service", "GET"): (R(args={"code": FOOD}), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("intake_api.submit", "POST"): (R(json={}), 401, 401, 401, 401, 422, 403, 403, 403, 403, 403, 403),
    ("intake_api.get_application", "GET"): (R(), 401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    ("intake_api.decide", "POST"): (R(json={}), 401, 401, 401, 401, 409, 403, 404, 403, 403, 403, 404),
    ("intake_api.resubmit", "POST"): (R(json={}), 401, 401, 401, 401, 422, 403, 404, 403, 403, 403, 404),
    ("intake_api.issue", "POST"): (R(json={}), 401, 401, 401, 401, 409, 403, 404, 403, 403, 403, 404),
    ("intake_api.notice", "GET"): (R(args={"kind": "receipt", "fmt": "html"}),
                                   401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    ("intake_api.public_case", "GET"): (R(tail="query"), 404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    ("intake_api.public_rating", "POST"): (R(json={"grade": "satisfied"}, tail="json"),
                                           404, 409, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    # --- the window's pages: the front desk's only
    ("intake_pages.window", "GET"): (R(), L, L, L, L, 200, 403, 403, 403, 403, 403, 403),
    ("intake_pages.lookup", "GET"): (R(), L, L, L, L, 302, 403, 403, 403, 403, 403, 403),
    ("intake_pages.apply_form", "GET"): (R(query={"service": FOOD}), L, L, L, L, 200, 403, 403, 403, 403, 403, 403),
    ("intake_pages.apply_submit", "POST"): (R(form={}), L, L, L, L, 422, 403, 403, 403, 403, 403, 403),
    ("intake_pages.case", "GET"): (R(), L, L, L, L, 200, 403, 404, 403, 403, 403, 404),
    ("intake_pages.decide", "POST"): (R(form={}), L, L, L, L, 409, 403, 404, 403, 403, 403, 404),
    ("intake_pages.issue", "POST"): (R(form={}), L, L, L, L, 409, 403, 404, 403, 403, 403, 404),
    # --- the applicant's pages
    ("intake_public.lookup", "GET"): (R(query={"case_no": "{case_no}"}, tail="query"),
                                      404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    ("intake_public.rate", "POST"): (R(form={"grade": "satisfied"}, tail="form"),
                                     404, 422, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    # --- a bad rating's follow-up: whom to call back (the matrix's case is no follow-up: 404 to readers too)
    ("intake_followups.contact", "GET"): (R(), L, L, L, L, 404, 404, 404, 404, 404, 404, 404),
    # --- the SLA API and the supervisors' pages
    ("sla_api.case_clock", "GET"): (R(), 401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    ("sla_api.start_special_procedure", "POST"): (R(json={}), 401, 401, 401, 401, 403, 422, 404, 422, 422, 422, 404),
    ("sla_api.end_special_procedure", "POST"): (R(args={"procedure_id": MISSING}),
                                                401, 401, 401, 401, 403, 404, 404, 404, 404, 404, 404),
    ("sla_api.extend", "POST"): (R(json={}), 401, 401, 401, 401, 403, 403, 404, 422, 422, 403, 404),
    ("sla_api.list_alerts", "GET"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("sla_api.ack", "POST"): (R(args={"alert_id": MISSING}), 401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404),
    ("sla_pages.alerts_page", "GET"): (R(), L, L, L, L, 302, 302, 302, 302, 302, 302, 302),
    ("sla_pages.alerts", "GET"): (R(), L, L, L, L, 200, 200, 200, 200, 200, 200, 200),
    ("sla_pages.ack", "POST"): (R(args={"alert_id": MISSING}, form={}), L, L, L, L, 404, 404, 404, 404, 404, 404, 404),
    ("sla_pages.at_risk", "GET"): (R(), L, L, L, L, 200, 200, 200, 200, 200, 200, 200),
    ("sla_pages.compliance", "GET"): (R(), L, L, L, L, 200, 200, 200, 200, 200, 200, 200),
    ("sla_pages.case_clock", "GET"): (R(), L, L, L, L, 200, 200, 404, 200, 200, 200, 404),
    # the director's dashboard: the office's supervisors (a department's reads his departments)
    ("sla_pages.dashboard_page", "GET"): (R(), L, L, L, L, 403, 403, 403, 200, 200, 200, 403),
    ("sla_pages.dashboard_csv", "GET"): (R(), L, L, L, L, 403, 403, 403, 200, 200, 200, 403),
    ("sla_pages.dashboard_xlsx", "GET"): (R(), L, L, L, L, 403, 403, 403, 200, 200, 200, 403),
    # --- the worklists' API: the case is at 承办 (handle) in market_dept
    ("worklists_api.list_tasks", "GET"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("worklists_api.counts", "GET"): (R(), 401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
    ("worklists_api.show", "GET"): (R(), 401, 401, 401, 401, 200, 200, 404, 200, 200, 200, 404),
    ("worklists_api.claim", "POST"): (R(json={"version": 0}), 401, 401, 401, 401, 403, 409, 404, 409, 409, 403, 404),
    ("worklists_api.unclaim", "POST"): (R(json={"version": 0}), 401, 401, 401, 401, 403, 409, 404, 409, 409, 403, 404),
    ("worklists_api.complete", "POST"): (R(json={"data": {}}), 401, 401, 401, 401, 403, 422, 404, 422, 422, 403, 404),
    ("worklists_api.send_back", "POST"): (R(json={"reason": "x"}),
                                          401, 401, 401, 401, 403, 403, 404, 403, 403, 403, 404),
    ("worklists_api.delegate", "POST"): (R(json={"to": ""}), 401, 401, 401, 401, 403, 422, 404, 403, 403, 403, 404),
    ("worklists_api.reassign", "POST"): (R(json={"to": ""}), 401, 401, 401, 401, 403, 403, 404, 422, 422, 403, 404),
    # --- the worklists' pages
    ("worklist_pages.tasks", "GET"): (R(), L, L, L, L, 200, 200, 200, 200, 200, 200, 200),
    ("worklist_pages.task", "GET"): (R(), L, L, L, L, 200, 200, 404, 200, 200, 200, 404),
    ("worklist_pages.claim", "POST"): (R(form={"version": "0"}), L, L, L, L, 403, 409, 404, 409, 409, 403, 404),
    ("worklist_pages.unclaim", "POST"): (R(form={"version": "0"}), L, L, L, L, 403, 409, 404, 409, 409, 403, 404),
    ("worklist_pages.complete", "POST"): (R(form={}), L, L, L, L, 403, 422, 404, 422, 422, 403, 404),
    ("worklist_pages.send_back", "POST"): (R(form={"reason": ""}), L, L, L, L, 403, 403, 404, 403, 403, 403, 404),
    ("worklist_pages.delegate", "POST"): (R(form={"to": ""}), L, L, L, L, 403, 422, 404, 403, 403, 403, 404),
    ("worklist_pages.reassign", "POST"): (R(form={"to": ""}), L, L, L, L, 403, 403, 404, 422, 422, 403, 404),
    ("worklist_pages.case", "GET"): (R(), L, L, L, L, 200, 200, 404, 200, 200, 200, 404),
    # --- operations (the test client is not on the loopback address and holds no metrics token)
    ("ops.healthz", "GET"): (R(), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("ops.readyz", "GET"): (R(), 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("ops.metrics_endpoint", "GET"): (R(), 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    # --- the applicants' own pages (统一身份认证): their own case only, another's is 404
    ("online.home", "GET"): (R(), 200, 200, 302, 302, 200, 200, 200, 200, 200, 200, 200),
    ("online.sign_in", "GET"): (R(), 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    ("online.callback", "GET"): (R(query={"code": "forged", "state": "forged"}),
                                 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    ("online.sign_out", "POST"): (R(form={}), 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    ("online.acting_for", "GET"): (R(), S, S, 200, 200, S, S, S, S, S, S, S),
    ("online.acting_for", "POST"): (R(form={"code": "91110108MA01ABCD2H"}), S, S, 403, 403, S, S, S, S, S, S, S),
    ("online.cases", "GET"): (R(), S, S, 200, 200, S, S, S, S, S, S, S),
    ("online.case", "GET"): (R(), S, S, 200, 404, S, S, S, S, S, S, S),
    ("online.notice", "GET"): (R(args={"kind": "receipt", "fmt": "pdf"}), S, S, 200, 404, S, S, S, S, S, S, S),
    ("online.material", "GET"): (R(), S, S, 200, 404, S, S, S, S, S, S, S),
    ("online.rate", "POST"): (R(form={"grade": "satisfied"}), S, S, 409, 404, S, S, S, S, S, S, S),
}

# The designer's answers where they differ from the other department's (designers deploy; the rest is
# as for anyone not involved in the case).
DESIGNER: dict[tuple[str, str], int | str] = {
    ("engine_api.deploy", "POST"): 422,
    ("diagram_api.version_diagram", "GET"): 200,
    ("designer.definitions_page", "GET"): 200,
    ("designer.version_page", "GET"): 200,
    ("designer.deploy_page", "GET"): 200,
    ("designer.deploy_page", "POST"): 422,
}


@pytest.fixture(scope="module")
def identity_service():
    """The dev-idp in a thread: the applicants' sign-in route redirects to it."""
    provider = create_provider("http://127.0.0.1", [DevClient("onewindow-dev", "dev-secret", (CALLBACK,))])
    with serving(provider) as url:
        provider.extensions["dev_idp.state"].issuer = url  # the port is known once it serves
        yield url


@pytest.fixture(scope="module")
def office(tmp_path_factory, sqlite_template, identity_service):
    """One office for the whole matrix: a food application accepted and at 承办, and a cancelled case."""
    tmp = tmp_path_factory.mktemp("matrix")
    shutil.copy(sqlite_template, tmp / "onewindow.db")
    app = make_app(tmp, f"sqlite:///{tmp / 'onewindow.db'}", oidc_issuer=identity_service,
                   oidc_client_id="onewindow-dev", oidc_client_secret="dev-secret")
    clock.set_default(MONDAY)
    setup_office(app)
    case_no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    decide(app, case_no, {"decision": "accept"})
    cancelled_no = apply(app, FOOD, materials=all_food_materials())["case_no"]
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        from engine import cases

        cases.cancel(uow, cancelled_no, identity.Actor("admin", is_admin=True), "matrix: a case already cancelled")
    broker.drain()  # the case clock and step clocks are made by subscribers after the commit
    with db.read() as s:
        task_id = s.scalar(select(Task.id).where(Task.case_no == case_no, Task.element_id == "handle",
                                                 Task.state == "open"))
        material_id = s.scalar(select(func.min(ApplicationMaterial.id)))
    with db.unit_of_work() as uow:  # bearer tokens without hashing a password per role
        tokens = {role: identity.issue_token(uow.session, identity.get_user(uow.session, user))
                  for role, user in USERS.items()}
    yield {"app": app, "tokens": tokens, "values": {
        "case_no": case_no, "cancelled_no": cancelled_no, "task_id": task_id, "alert_id": MISSING,
        "procedure_id": MISSING, "kind": "receipt", "fmt": "html", "name": "materials_supplemented", "code": FOOD,
        "material_id": str(material_id)}}
    broker.drain()
    clock.set_default(None)
    db.dispose()


def snapshot(app) -> tuple:
    """What a refused (or merely checked) request must not change: cases, tasks and their history."""
    with app.extensions["onewindow.db"].read() as s:
        cases = sorted(s.execute(select(Case.case_no, Case.status, Case.version, Case.flagged)).all())
        tasks = sorted(s.execute(select(Task.id, Task.state, Task.assignee, Task.version)).all())
        events = s.scalar(select(func.count()).select_from(CaseEvent))
    return cases, tasks, events


def _path(app, endpoint: str, method: str, request: R, values: dict[str, str]) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
    args = {a: values[request.args.get(a, a)] if request.args.get(a, a) in values else request.args[a]
            for a in rule.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **args)


def call(office, endpoint: str, method: str, request: R, role: str):
    app, values = office["app"], office["values"]
    path = _path(app, endpoint, method, request, values)
    query = {k: v.format(**values) for k, v in request.query.items()}
    body_json = dict(request.json) if isinstance(request.json, dict) else request.json
    form = dict(request.form) if request.form is not None else None
    if role == "public" and request.tail:
        tail = ORG_ID[-4:]
        {"query": query, "json": body_json, "form": form}[request.tail]["id_tail"] = tail
    client = app.test_client()
    headers = {}
    user_token = office["tokens"].get(role)
    if user_token and endpoint in ("shell.logout", "engine_api.logout"):
        with app.extensions["onewindow.db"].unit_of_work() as uow:  # logging out revokes: not the shared one
            user_token = identity.issue_token(uow.session, identity.get_user(uow.session, USERS[role]))
    if not path.startswith("/api/") and method not in ("GET", "HEAD"):
        # a page's form as the browser posts it: with the CSRF token the page carried (engine/csrf.py)
        found = CSRF_FIELD.search(client.get("/login").get_data(as_text=True))
        form = {**(form or {}), "csrf_token": found.group(1)}
    if user_token and path.startswith("/api/"):
        headers["Authorization"] = f"Bearer {user_token}"
    elif user_token:
        with client.session_transaction() as session:
            session["token"] = user_token
    if role in APPLICANTS:  # a session of their own per cell: signing out or in elsewhere ends it
        with app.extensions["onewindow.db"].unit_of_work() as uow:
            applicant_token = applicants.open_session(uow.session, APPLICANTS[role], clock.now())
        with client.session_transaction() as session:
            session["applicant"] = applicant_token
    # each role from its own address: the public pages' per-client rate limit counts them apart
    environ = {"REMOTE_ADDR": f"10.9.0.{(*ROLES, 'designer').index(role) + 1}"}
    return client.open(path, method=method, query_string=query, json=body_json, data=form, headers=headers,
                       environ_base=environ)


def outcome(response) -> int | str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return L
    if response.status_code == 302 and "/online/sign-in" in response.headers.get("Location", ""):
        return S
    return response.status_code


def test_the_table_covers_every_route_of_the_url_map(office):
    # Given the app's URL map (HEAD and OPTIONS are Flask's own)
    routes = {(r.endpoint, m) for r in office["app"].url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    # Then the table has a row for each route, and none for a route that is gone
    assert sorted(routes - set(TABLE)) == [], "routes with no row in the authorization matrix"
    assert sorted(set(TABLE) - routes) == [], "rows for routes that no longer exist"
    # And each row answers for every role (a column per role: see ROLES)
    assert [route for route, row in TABLE.items() if len(row) != 1 + len(ROLES)] == [], \
        f"rows without one answer for each of {ROLES}"


def test_every_route_answers_every_role_as_the_table_says_and_a_refusal_changes_nothing(office):
    app = office["app"]
    wrong = []
    for (endpoint, method), (request, *expected) in sorted(TABLE.items()):
        designer = DESIGNER.get((endpoint, method), expected[ROLES.index("other_dept")])
        for role, want in [*zip(ROLES, expected, strict=True), ("designer", designer)]:
            # Given the office as it is
            before = snapshot(app)
            # When this role calls this route
            response = call(office, endpoint, method, request, role)
            got = outcome(response)
            response.close()  # a file the route streams (the static files) is closed, not left to the collector
            # Then it answers as the table says, and nothing of the cases changed
            if got != want:
                wrong.append(f"{method} {endpoint} as {role}: {got}, expected {want}")
            assert snapshot(app) == before, f"{method} {endpoint} as {role} changed a case"
    assert wrong == []


@pytest.mark.parametrize("path", ["/api/cases/{no}", "/api/cases/{no}/clock", "/supervision/cases/{no}",
                                  "/api/cases/{no}/diagram",
                                  "/api/cases/{no}/notices/receipt.html", "/api/applications/{no}",
                                  "/cases/{no}", "/window/cases/{no}"])
def test_another_department_gets_404_as_if_the_case_did_not_exist(office, path):
    # Given a case at market_dept, and the same request for a number that does not exist
    no, nothing = office["values"]["case_no"], "OW209912310000001"
    real = call_path(office, "other_dept", path.format(no=no))
    missing = call_path(office, "other_dept", path.format(no=nothing))
    # Then health1 gets the same 404 for both: nothing tells that the real one exists
    assert real.status_code == missing.status_code == 404
    # (the pages' logout form carries a CSRF token of each session's own, which tells nothing)
    assert _without_csrf_token(real.get_data(as_text=True).replace(no, nothing)) == \
        _without_csrf_token(missing.get_data(as_text=True))


def _without_csrf_token(page: str) -> str:
    return CSRF_FIELD.sub('name="csrf_token" value=""', page)


def call_path(office, role: str, path: str):
    client, token = office["app"].test_client(), office["tokens"][role]
    if path.startswith("/api/"):
        return client.get(path, headers={"Authorization": f"Bearer {token}"})
    with client.session_transaction() as session:
        session["token"] = token
    return client.get(path)


@pytest.mark.parametrize("path", ["/online/cases/{no}", "/online/cases/{no}/notices/receipt.pdf",
                                  "/online/cases/{no}/notices/receipt.html", "/online/cases/{no}/materials/{m}"])
def test_another_applicant_gets_404_as_if_the_case_did_not_exist(office, path):
    # Given the organisation's case, and a second applicant signed in through the identity service
    no, nothing, m = office["values"]["case_no"], "OW209912310000001", office["values"]["material_id"]
    owner = call_path_as_applicant(office, "applicant", path.format(no=no, m=m))
    real = call_path_as_applicant(office, "other_applicant", path.format(no=no, m=m))
    missing = call_path_as_applicant(office, "other_applicant", path.format(no=nothing, m=m))
    # Then the owner's representative gets it, and the second applicant the same 404 as for no case at all
    assert owner.status_code == 200
    assert real.status_code == missing.status_code == 404
    assert _without_csrf_token(real.get_data(as_text=True).replace(no, nothing)) == \
        _without_csrf_token(missing.get_data(as_text=True))


def call_path_as_applicant(office, role: str, path: str):
    app = office["app"]
    client = app.test_client()
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        token = applicants.open_session(uow.session, APPLICANTS[role], clock.now())
    with client.session_transaction() as session:
        session["applicant"] = token
    return client.get(path)
