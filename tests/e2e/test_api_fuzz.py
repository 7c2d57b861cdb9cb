"""A bounded schemathesis run over /api/openapi.json, in process against the WSGI app on PostgreSQL:
whatever the document lets a client send, valid or not, nothing answers 5xx.

The office is seeded (the reference process, the catalog, applications at several stages) and each
request carries a real token, so requests reach past 401; path parameters are mostly real case
numbers, task ids and service codes, so they reach past 404 too.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from engine import broker, clock, identity
from engine.models import Task
from tests.conftest import drop_pg_database, fresh_pg_database, make_app
from tests.e2e.intake_helpers import (
    MONDAY,
    ORG_ID,
    PERSON_ID,
    SOLE_TRADER,
    all_food_materials,
    apply,
    decide,
    setup_office,
    travel,
)

EXAMPLES_PER_OPERATION = 25
USERS = ("admin", "window1", "market1", "market_lead", "director")


@pytest.fixture(scope="module")
def office(tmp_path_factory, pg_url, pg_template):
    url = fresh_pg_database(pg_url, pg_template)
    app = make_app(tmp_path_factory.mktemp("fuzz"), url)
    travel(MONDAY)  # a day whose deadlines the shipped calendar covers
    setup_office(app)
    accepted = apply(app, materials=all_food_materials())["case_no"]
    decide(app, accepted, {"decision": "accept"})
    corrected = apply(app, materials=[m for m in all_food_materials() if m["code"] != "premises"])["case_no"]
    decide(app, corrected, {"decision": "correction", "missing": ["premises"], "reason": "缺经营场所使用证明"})
    received = apply(app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明")["case_no"]
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:  # tokens without Argon2: the run is about the API, not the sign-in
        tokens = {u: identity.issue_token(uow.session, identity.get_user(uow.session, u)) for u in USERS}
    with db.read() as s:
        tasks = list(s.scalars(select(Task.id)))
    seeds = {
        "case_no": [accepted, corrected, received],
        "task_id": tasks,
        "code": ["110105-XK-0001", "110105-XK-0002", SOLE_TRADER],
        "name": ["materials_resubmitted"],
        "kind": ["receipt", "acceptance", "refusal", "correction"],
        "fmt": ["html", "pdf"],
        "id_tail": [ORG_ID[-4:], PERSON_ID[-4:]],
    }
    yield app, seeds, tokens
    clock.set_default(None)
    broker.drain()
    db.dispose()
    drop_pg_database(url)


def _pick(value, pool: list):
    """Mostly (3 in 4) a real value from ``pool``, chosen by the generated one so a run replays."""
    digest = int(hashlib.sha256(repr(value).encode()).hexdigest(), 16)
    return pool[digest % len(pool)] if pool and digest % 4 else value


def _call(case, app, seeds: dict, tokens: dict, user: str):
    for name, value in list((case.path_parameters or {}).items()):
        case.path_parameters[name] = _pick(value, seeds.get(name, []))
    if isinstance(case.query, dict) and isinstance(case.query.get("id_tail"), str):
        case.query["id_tail"] = _pick(case.query["id_tail"], seeds["id_tail"])
    if case.operation.path == "/api/auth/logout":  # it revokes what it carries: a token of its own
        with app.extensions["onewindow.db"].unit_of_work() as uow:
            token = identity.issue_token(uow.session, identity.get_user(uow.session, "market1"))
    else:
        token = tokens[user]
    return case.call(headers={"Authorization": f"Bearer {token}"})


def test_no_request_the_openapi_document_allows_gets_a_5xx(office):
    # Given the office's API as its OpenAPI document describes it
    app, seeds, tokens = office
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    server_errors: list[str] = []
    users = itertools.cycle(USERS)  # each role in turn, so refusals and successes both come
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # When schemathesis sends what the document allows (and what it does not)
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case):
                response = _call(case, app, seeds, tokens, next(users))
                if response.status_code >= 500:
                    server_errors.append(f"{response.status_code} {case.method} {case.formatted_path} "
                                         f"query={case.query!r} body={case.body!r:.300}")

            try:
                send()
            except Unsatisfiable:  # nothing is invalid about an operation that takes no input
                assert mode is GenerationMode.NEGATIVE, operation.label
    # Then nothing answered 5xx
    assert server_errors == [], "\n".join(server_errors[:20])
