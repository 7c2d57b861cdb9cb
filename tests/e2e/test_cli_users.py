"""`onewindow user add` creates users whose groups decide what they see; bad input names the field."""

from tests.conftest import Api


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
                  "supervises": [], "admin": False}
    # A wrong password is 401 as problem details
    r = sqlite_app.test_client().post("/api/auth/token", json={"username": "nurse1", "password": "nope-nope"})
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/problem+json")


def test_user_add_refuses_bad_input(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    short = runner.invoke(args=["user", "add", "nurse2", "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output
    bad_group = runner.invoke(args=["user", "add", "nurse3", "--password", "long-enough-1", "--groups", "a b"])
    assert bad_group.exit_code != 0 and "groups" in bad_group.output
