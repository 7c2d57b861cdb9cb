"""Default deny: a route that declares no access rule is refused to everyone, and its view never runs."""

from __future__ import annotations

from engine.access import ADMIN, guard
from tests.conftest import Api


def test_a_route_without_a_rule_is_refused_even_to_an_admin(sqlite_app):
    # Given a new route someone forgot to guard, and one guarded for administrators
    ran = []

    def forgotten():
        ran.append("forgotten")
        return "secret"

    @guard(ADMIN)
    def guarded():
        ran.append("guarded")
        return "ok"

    sqlite_app.add_url_rule("/api/forgotten", "forgotten", forgotten)
    sqlite_app.add_url_rule("/api/guarded", "guarded", guarded)
    # When anyone asks for the unguarded one: 403 problem details, the view never ran
    for user in (None, "window1", "admin"):
        r = Api(sqlite_app, user).get("/api/forgotten")
        assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/problem+json"), user
        assert "declares no access rule" in r.get_json()["detail"]
    assert ran == []
    # Then the guarded one answers by its rule: 401, 403, then 200 for an administrator
    assert [Api(sqlite_app, u).get("/api/guarded").status_code for u in (None, "window1", "admin")] == [401, 403, 200]
    assert ran == ["guarded"]


def test_an_unknown_path_is_still_404(sqlite_app):
    assert Api(sqlite_app, "window1").get("/api/no-such-thing").status_code == 404
    assert Api(sqlite_app).get("/no-such-page").status_code == 404
