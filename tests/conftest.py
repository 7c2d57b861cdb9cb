"""Shared fixtures: an app on a migrated SQLite file, and on real PostgreSQL and Redis.

Locally a test needing PostgreSQL or Redis skips with the reason when the service is absent; with
CI=true it fails instead (the services must be there).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ONEWINDOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONEWINDOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"

DEMO_USERS = [
    # username, groups, supervises, admin, roles
    ("admin", "", "", True, ""),
    ("window1", "front_desk", "", False, ""),
    ("window2", "front_desk", "", False, ""),
    ("market1", "market_dept", "", False, ""),
    ("market2", "market_dept", "", False, ""),
    ("market3", "market_dept", "", False, ""),
    ("health1", "health_dept", "", False, ""),
    ("health2", "health_dept", "", False, ""),
    ("health3", "health_dept", "", False, ""),
    ("housing1", "housing_dept", "", False, ""),
    ("housing2", "housing_dept", "", False, ""),
    ("housing3", "housing_dept", "", False, ""),
    ("general1", "general_dept", "", False, ""),
    ("general2", "general_dept", "", False, ""),
    ("general3", "general_dept", "", False, ""),
    ("market_lead", "", "market_dept", False, ""),
    ("health_lead", "", "health_dept", False, ""),
    ("director", "", "front_desk,market_dept,health_dept,housing_dept,general_dept", False, "office_supervisor"),
    ("portal", "", "", False, "integration"),
    ("designer1", "", "", False, "designer"),
]
PASSWORD = "test-pass-123"
GROUP_PREFIX = {"front_desk": "window", "market_dept": "market", "health_dept": "health",
                "housing_dept": "housing", "general_dept": "general"}
# 承办, 审核 and 批准 are separated (their separateFrom): three members of the department, one each.
SEPARATED_STEPS = {"handle": 1, "review": 2, "approve": 3}


def member_for(group: str, element_id: str = "") -> str:
    """The test user who completes step ``element_id`` of a task queued to ``group``."""
    return f"{GROUP_PREFIX[group]}{SEPARATED_STEPS.get(element_id, 1)}"


def need_service(name: str, check) -> None:
    try:
        check()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            pytest.fail(f"{name} is required in CI but unreachable: {exc}")
        pytest.skip(f"{name} not reachable locally ({exc}); CI=true makes this a failure")


def _pg_check(url: str = PG_URL) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
    finally:
        eng.dispose()


def _redis_check() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()


@pytest.fixture(scope="session")
def pg_url():
    need_service("PostgreSQL", _pg_check)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url():
    need_service("Redis", _redis_check)
    return REDIS_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per session, copied for each test (migrations run once)."""
    from engine import identity
    from engine.db import Database
    from onewindow import migrate

    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.url, db.engine)
    with db.unit_of_work() as uow:  # argon2 hashing is slow on purpose: hash the test users once
        for name, groups, supervises, admin, roles in DEMO_USERS:
            identity.add_user(uow.session, name, PASSWORD, groups=groups.split(","),
                              supervises=supervises.split(","), admin=admin, roles=roles.split(","))
    db.dispose()
    return path


def _admin_engine(base_url: str):
    import sqlalchemy as sa

    return sa.create_engine(base_url, isolation_level="AUTOCOMMIT")


def _db_url(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template(pg_url):
    """A migrated, seeded PostgreSQL database cloned (CREATE DATABASE ... TEMPLATE) for each test."""
    import sqlalchemy as sa

    from engine import identity
    from engine.db import Database
    from onewindow import migrate

    name = f"ow_tmpl_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(pg_url)
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    db = Database(_db_url(pg_url, name))
    migrate.upgrade(db.url, db.engine)
    with db.unit_of_work() as uow:
        for user, groups, supervises, is_admin, roles in DEMO_USERS:
            identity.add_user(uow.session, user, PASSWORD, groups=groups.split(","),
                              supervises=supervises.split(","), admin=is_admin, roles=roles.split(","))
    db.dispose()
    yield name
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_pg_database(base_url: str, template: str) -> str:
    import sqlalchemy as sa

    name = f"ow_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(base_url)
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return _db_url(base_url, name)


def drop_pg_database(url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    admin = _admin_engine(url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_app(tmp_path: Path, database_url: str, **overrides):
    from engine import broker
    from onewindow.app import create_app

    app = create_app(
        database_url=database_url, instance_dir=str(tmp_path / "instance"),
        secret_key="test-secret", **overrides,
    )
    app.config["TESTING"] = True
    broker.start_in_process_worker()
    return app


def seed_users(app) -> None:
    from engine import identity

    with app.extensions["onewindow.db"].unit_of_work() as uow:
        for name, groups, supervises, admin, roles in DEMO_USERS:
            identity.add_user(uow.session, name, PASSWORD, groups=groups.split(","),
                              supervises=supervises.split(","), admin=admin, roles=roles.split(","))


def deploy_reference(app) -> None:
    from engine import definitions

    files = {
        "one_window.bpmn": (ROOT / "bpmn/processes/one_window.bpmn").read_bytes(),
        "classify.dmn": (ROOT / "bpmn/decisions/classify.dmn").read_bytes(),
    }
    with app.extensions["onewindow.db"].unit_of_work() as uow:
        definitions.deploy(uow.session, files, actor="test", forms_from=[ROOT / "bpmn"])


@pytest.fixture
def sqlite_app(tmp_path, sqlite_template):
    target = tmp_path / "onewindow.db"
    shutil.copy(sqlite_template, target)
    app = make_app(tmp_path, f"sqlite:///{target}")
    yield app
    from engine import broker

    broker.drain()
    app.extensions["onewindow.db"].dispose()


@pytest.fixture
def pg_app(tmp_path, pg_url, pg_template):
    url = fresh_pg_database(pg_url, pg_template)
    app = make_app(tmp_path, url)
    db = app.extensions["onewindow.db"]
    yield app
    from engine import broker

    broker.drain()
    db.dispose()
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request):
    """The same test on the embedded default and on PostgreSQL."""
    return request.getfixturevalue("sqlite_app" if request.param == "sqlite" else "pg_app")


_tokens: dict[tuple[int, str], str] = {}


class Api:
    """A tiny client speaking JSON with a bearer token (tokens cached per app and user)."""

    def __init__(self, app, username: str | None = None):
        self.app = app
        self.client = app.test_client()
        self.headers: dict[str, str] = {}
        if username:
            self.login(username)

    def login(self, username: str, password: str = PASSWORD) -> None:
        key = (self.app.extensions["onewindow.db"].url, username)
        if password != PASSWORD or key not in _tokens:
            r = self.client.post("/api/auth/token", json={"username": username, "password": password})
            assert r.status_code == 200, r.get_json()
            if password != PASSWORD:
                self.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
                return
            _tokens[key] = r.get_json()["token"]
        self.headers = {"Authorization": f"Bearer {_tokens[key]}"}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers, **kw)


@pytest.fixture
def api_as(any_app):
    def make(username: str) -> Api:
        return Api(any_app, username)

    return make


class Browser:
    """The pages as a browser uses them: open a page, then post its form with the CSRF token the page
    carried and an Origin header naming the app's own site (``client`` is the browser's address)."""

    TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')

    def __init__(self, app, client: str = "127.0.0.1"):
        self.app = app
        self.client = app.test_client()
        self.environ = {"REMOTE_ADDR": client}
        self.token: str | None = None

    def get(self, url, **kw):
        r = self.client.get(url, environ_base=self.environ, **kw)
        found = self.TOKEN.search(r.get_data())
        if found:
            self.token = found.group(1).decode()
        return r

    def post(self, url, data=None, **kw):
        """Submit a form of the page opened last (its token is added unless ``data`` has one)."""
        data = dict(data or {})
        if self.token is not None:
            data.setdefault("csrf_token", self.token)
        headers = {"Origin": "http://localhost", **kw.pop("headers", {})}
        return self.client.post(url, data=data, headers=headers, environ_base=self.environ, **kw)

    def login(self, username: str, password: str = PASSWORD):
        """Sign in through the login form; like a browser, open the page it sends you to."""
        self.get("/login")
        r = self.post("/login", data={"username": username, "password": password})
        if r.status_code == 302:
            self.get(r.headers["Location"], follow_redirects=True)
        return r
