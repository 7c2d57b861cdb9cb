"""Contracts that must not go missing unnoticed, and the proof that their tests notice.

- the version check on claim and on complete: a client acting on a task version it saw earlier gets
  409 and nothing changes;
- the front-desk-only rule: registering applications, the window's pages, the ID-number lookup of
  earlier applications and the recent applicants are the front desk's alone.

Each contract is a plain function run by its test. ``test_each_mutation_is_caught`` then applies, one
at a time, the mutations that would remove the contract (each edits the source of one function and
swaps the edited copy in, or takes one check out of a rule) and asserts that the contract's function
fails under it and passes again once it is undone. (Each cell of the task action table is proven the
same way in tests/unit/test_task_state.py.)
"""

from __future__ import annotations

import inspect
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from engine import access, broker, cases, clock, identity, policy, task_state
from engine.errors import Forbidden
from engine.models import Task
from intake import applications
from intake.models import Application
from intake.requests import parse_application
from tests.conftest import Api, make_app
from tests.e2e.intake_helpers import FOOD, MONDAY, ORG_ID, PERSON_ID, all_food_materials, apply, setup_office

DESK = identity.Actor("window1", frozenset({"front_desk"}))


@pytest.fixture(scope="module")
def office(tmp_path_factory, sqlite_template):
    tmp = tmp_path_factory.mktemp("contracts")
    shutil.copy(sqlite_template, tmp / "onewindow.db")
    app = make_app(tmp, f"sqlite:///{tmp / 'onewindow.db'}")
    clock.set_default(MONDAY)
    setup_office(app)
    apply(app, FOOD, kind="person", id_number=PERSON_ID, name="王小明", materials=all_food_materials())
    yield app
    clock.set_default(None)
    app.extensions["onewindow.db"].dispose()


def handle_task(app) -> dict:
    """A new case of its own, at 承办 in market_dept: each run of a contract starts from a fresh task."""
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        no = cases.start_case(uow, "one_window", {"category": "food"}, DESK).case_no
    with db.unit_of_work() as uow:
        intake = uow.session.scalar(select(Task.id).where(Task.case_no == no, Task.element_id == "intake"))
        cases.complete(uow, intake, {"decision": "accept"}, DESK)
    broker.drain()  # the SLA clocks date the new task after the commit (a new version): let that land first
    return Api(app, "admin").get(f"/api/cases/{no}").get_json()["open_tasks"][0]


def task_now(app, task_id: str) -> dict:
    return Api(app, "market1").get(f"/api/tasks/{task_id}").get_json()["task"]


# --- the contracts -------------------------------------------------------------------------------


def contract_version_on_claim(app) -> None:
    # Given an open task at version v, seen by market1, then claimed and given back by market2 (v moves on)
    task = handle_task(app)
    market1, market2 = Api(app, "market1"), Api(app, "market2")
    seen = task["version"]
    assert market2.post(f"/api/tasks/{task['id']}/claim", json={"version": seen}).status_code == 200
    assert market2.post(f"/api/tasks/{task['id']}/unclaim").status_code == 200
    before = task_now(app, task["id"])
    # When market1 claims it with the version they saw
    r = market1.post(f"/api/tasks/{task['id']}/claim", json={"version": seen})
    # Then 409 naming the version, and the task is as it was
    assert r.status_code == 409, r.get_json()
    assert "version" in r.get_json()["detail"]
    assert task_now(app, task["id"]) == before
    # While the current version claims
    assert market1.post(f"/api/tasks/{task['id']}/claim", json={"version": before["version"]}).status_code == 200


def contract_version_on_complete(app) -> None:
    # Given market1's claimed task, and the version they saw before a colleague's note was saved (delegated
    # to market2 and back: the version moved on while market1 still holds the page)
    task = handle_task(app)
    market1, market2 = Api(app, "market1"), Api(app, "market2")
    assert market1.post(f"/api/tasks/{task['id']}/claim").status_code == 200
    seen = task_now(app, task["id"])["version"]
    assert market1.post(f"/api/tasks/{task['id']}/delegate", json={"to": "market2"}).status_code == 200
    assert market2.post(f"/api/tasks/{task['id']}/delegate", json={"to": "market1"}).status_code == 200
    before = task_now(app, task["id"])
    # When market1 completes with the version they saw
    r = market1.post(f"/api/tasks/{task['id']}/complete",
                     json={"data": {"outcome": "submit", "opinion": "同意"}, "version": seen})
    # Then 409, and the task is still open at 承办 as it was
    assert r.status_code == 409, r.get_json()
    assert "version" in r.get_json()["detail"]
    assert task_now(app, task["id"]) == before
    # While the current version completes
    r = market1.post(f"/api/tasks/{task['id']}/complete",
                     json={"data": {"outcome": "submit", "opinion": "同意"}, "version": before["version"]})
    assert r.status_code == 200, r.get_json()


def _applications(app) -> int:
    with app.extensions["onewindow.db"].read() as s:
        return s.scalar(select(func.count()).select_from(Application))


def _page(app, username: str, path: str):
    client = app.test_client()
    token = Api(app, username).headers["Authorization"][7:]
    with client.session_transaction() as session:
        session["token"] = token
    return client.get(path)


def contract_front_desk_only(app) -> None:
    before = _applications(app)
    body = {"service_code": FOOD, "channel": "window", "materials": [],
            "applicant": {"kind": "organization", "id_number": ORG_ID, "name": "示范", "phone": "13800138000"}}
    # Given people who are not the front desk: a caseworker, the director (who supervises the front desk)
    for user in ("market1", "director", "admin", "portal"):
        # When they register an application: 403, and nothing is written
        assert Api(app, user).post("/api/applications", json=body).status_code == 403, user
        # When they open the window, look up an ID number's earlier applications, or a case by number: 403
        for path in ("/window/", f"/window/apply?service={FOOD}&id_number={PERSON_ID}", "/window/lookup?case_no=x"):
            page = _page(app, user, path)
            assert page.status_code == 403, (user, path)
            assert PERSON_ID not in page.get_data(as_text=True) and "王小明" not in page.get_data(as_text=True)
    assert _applications(app) == before
    # And the service refuses them too, whoever calls it (the demo seed, a command), even an integration
    # that the reference process lets start cases of its own
    settings = app.config["ONEWINDOW"]
    for actor in (identity.Actor("market1", frozenset({"market_dept"})),
                  identity.Actor("portal", roles=frozenset({policy.INTEGRATION}))):
        with pytest.raises(Forbidden, match="front desk"), app.extensions["onewindow.db"].unit_of_work() as uow:
            applications.receive(uow, parse_application(body, settings.max_upload_bytes), actor, settings.upload_dir)
    assert _applications(app) == before
    # While the front desk has the window with its recent applicants
    window = _page(app, "window1", "/window/")
    assert window.status_code == 200 and "王小明" in window.get_data(as_text=True)


# --- the contracts' tests -------------------------------------------------------------------------


def test_a_stale_version_cannot_claim(office):
    contract_version_on_claim(office)


def test_a_stale_version_cannot_complete(office):
    contract_version_on_complete(office)


def test_only_the_front_desk_registers_and_looks_up(office):
    contract_front_desk_only(office)


# --- mutations: each removes one contract; the contract's test must then fail ---------------------


@contextmanager
def edited(function: Callable, old: str, new: str) -> Iterator[None]:
    """Swap ``function`` for a copy whose source has ``old`` replaced by ``new``, wherever it is bound."""
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{old!r} is not once in {function.__qualname__}"
    module = sys.modules[function.__module__]
    defined: dict = {}
    exec(compile(source.replace(old, new), inspect.getsourcefile(function) or "?", "exec"),  # noqa: S102
         module.__dict__, defined)
    mutant = defined[function.__name__]
    bound = [m for m in list(sys.modules.values())
             if getattr(m, "__dict__", None) and m.__dict__.get(function.__name__) is function]
    for m in bound:
        setattr(m, function.__name__, mutant)
    try:
        yield
    finally:
        for m in bound:
            setattr(m, function.__name__, function)


@contextmanager
def without_check(rule: access.Rule, check: Callable) -> Iterator[None]:
    """The route rule with one of its checks taken out (rules are frozen: swapped and put back)."""
    checks = rule.checks
    object.__setattr__(rule, "checks", tuple(c for c in checks if c is not check))
    try:
        yield
    finally:
        object.__setattr__(rule, "checks", checks)


MUTATIONS = {
    "the machine ignores the version": (
        lambda: edited(task_state.can, "if version is not None and version != task.version:", "if False:"),
        [contract_version_on_claim, contract_version_on_complete]),
    "claim passes no version": (
        lambda: edited(cases.claim, "_decide(uow, task, actor, Action.CLAIM, expected_version)",
                       "_decide(uow, task, actor, Action.CLAIM, None)"),
        [contract_version_on_claim]),
    "complete passes no version": (
        lambda: edited(cases.complete, "_decide(uow, task, actor, action, expected_version)",
                       "_decide(uow, task, actor, action, None)"),
        [contract_version_on_complete]),
    "everyone is the front desk": (
        lambda: edited(policy.is_front_desk, "return FRONT_DESK in actor.groups", "return True"),
        [contract_front_desk_only]),
    "the front-desk routes do not check": (
        lambda: without_check(access.FRONT_DESK, access._front_desk),
        [contract_front_desk_only]),
    "registering does not check": (
        lambda: edited(applications.check_front_desk, "if not policy.is_front_desk(actor):", "if False:"),
        [contract_front_desk_only]),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_is_caught(office, name):
    mutation, contracts = MUTATIONS[name]
    for contract in contracts:
        # Given the code with this mutation, When the contract is run, Then it fails
        with mutation(), pytest.raises(AssertionError):
            contract(office)
        # And once the mutation is undone the same contract holds again
        contract(office)


def test_an_unchanged_copy_behaves_like_the_original(office):
    # the copies run in their own module's namespace: an edit that changes nothing changes no outcome
    same = "_decide(uow, task, actor, Action.CLAIM, expected_version)"
    with edited(cases.claim, same, same):
        contract_version_on_claim(office)
