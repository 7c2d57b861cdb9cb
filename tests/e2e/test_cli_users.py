"""`onewindow user add` creates users whose groups decide what they see; bad input names the field."""

import sqlalchemy as sa

from engine.models import ProcessDefinition, User
from onewindow.cli import main
from tests.conftest import DEMO_USERS, Api


def test_user_add_then_log_in_and_see_only_own_groups(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    # Given a new caseworker of health_dept created from the command line
    result = runner.invoke(args=["user", "add", "nurse1", "--password", "long-enough-1",
                                 "--groups", "health_dept", "--display-name", "护士甲"])
    assert result.exit_code == 0, result.output
    # When they log in
    api = Api(sqlite_app)
    api.login("nurse1", "long-enough-1")
    me = api.get("/api/me").get_json()
    # Then their groups are the ones given, and nothing else
    assert me == {"username": "nurse1", "display_name": "护士甲", "groups": ["health_dept"],
                  "supervises": [], "roles": [], "admin": False}
    # A wrong password is 401 as problem details
    r = sqlite_app.test_client().post("/api/auth/token", json={"username": "nurse1", "password": "nope-nope"})
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/problem+json")


def test_user_add_refuses_bad_input(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    short = runner.invoke(args=["user", "add", "nurse2", "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output
    bad_group = runner.invoke(args=["user", "add", "nurse3", "--password", "long-enough-1", "--groups", "a b"])
    assert bad_group.exit_code != 0 and "groups" in bad_group.output
    bad_role = runner.invoke(args=["user", "add", "nurse4", "--password", "long-enough-1", "--roles", "root"])
    assert bad_role.exit_code != 0 and "roles" in bad_role.output and "'root' is not a role" in bad_role.output


def test_user_add_refuses_weak_and_published_passwords_saying_why(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    cases = {
        "alllowercaseletters": "at least 10 characters",  # one class only
        "Short-1": "at least 10 characters",  # three classes, too short
        "onewindow-demo": "demo",  # the README's published password
        "Onewindow-demo-2026": "demo",  # strong in form, still the published one
        "clerk7-Password": "username",
    }
    for password, reason in cases.items():
        # When a user is added with a weak password
        result = runner.invoke(args=["user", "add", "clerk7", "--password", password])
        # Then the command fails naming the field and the rule
        assert result.exit_code != 0, password
        assert "password" in result.output and reason in result.output, (password, result.output)
    # And nothing was stored
    with sqlite_app.extensions["onewindow.db"].read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "clerk7")) == 0
    # While a password of three classes and ten characters is taken
    assert runner.invoke(args=["user", "add", "clerk7", "--password", "Window-desk-7"]).exit_code == 0


def test_the_demo_command_refuses_a_database_that_has_users(sqlite_app):
    # Given a database with users and no definitions
    db = sqlite_app.extensions["onewindow.db"]
    with db.read() as s:
        before = (s.scalar(sa.select(sa.func.count()).select_from(User)),
                  s.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)))
    # When the demo office is seeded into it
    result = sqlite_app.test_cli_runner().invoke(cli=main, args=["demo"])
    # Then it is refused with the reason, and nothing was added
    assert result.exit_code != 0
    assert f"already has {len(DEMO_USERS)} user(s)" in result.output
    assert "only seeded into an empty database" in result.output
    with db.read() as s:
        assert (s.scalar(sa.select(sa.func.count()).select_from(User)),
                s.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition))) == before


def test_user_add_with_a_role_carries_it_on_the_actor(sqlite_app):
    # Given an integration account created with --roles
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["user", "add", "gateway", "--password", "long-enough-1", "--roles", "integration"])
    assert result.exit_code == 0, result.output
    # When it logs in, Then /api/me names the role
    api = Api(sqlite_app)
    api.login("gateway", "long-enough-1")
    assert api.get("/api/me").get_json()["roles"] == ["integration"]
