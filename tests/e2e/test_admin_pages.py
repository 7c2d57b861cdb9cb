"""The administrators' pages: accounts (add, change, disable, reset a password; each a security event
in the audit log; refusals change nothing), groups, the catalog (versions, loading a file) and the
calendar (years with data, office files, what is provisional)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from engine import clock, office
from engine.models import AuditEntry, User
from tests.conftest import ROOT, Api, Browser

NEW_PASSWORD = "Xin-mima-2026!"


def admin(app) -> Browser:
    page = Browser(app)
    page.login("admin")
    return page


def events(app) -> list[tuple[str, str, str]]:
    with app.extensions["onewindow.db"].read() as s:
        return [(e.event, e.username, e.detail) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.category == "security").order_by(AuditEntry.id))
            if e.event.startswith(("account_", "password_"))]


def user(app, name: str) -> User:
    with app.extensions["onewindow.db"].read() as s:
        found = s.scalar(select(User).where(User.username == name))
        if found is not None:
            _ = (found.groups, found.supervises, found.roles)
            s.expunge(found)
        return found


def test_an_admin_adds_changes_disables_and_resets_accounts(sqlite_app):
    app = sqlite_app
    page = admin(app)
    assert page.get("/admin/users").status_code == 200
    # When an account is added with a weak password, nothing is stored and each problem is named
    r = page.post("/admin/users", data={"username": "market4", "password": "short",
                                        "display_name": "市场监管局 新人", "groups": ["market_dept"]})
    assert r.status_code == 422 and 'data-field="password"' in r.get_data(as_text=True)
    assert user(app, "market4") is None and events(app) == []
    # When it is added properly, it may sign in and work in its department
    r = page.post("/admin/users", data={"username": "market4", "password": NEW_PASSWORD,
                                        "display_name": "市场监管局 新人", "groups": ["market_dept"],
                                        "groups_new": "front_desk"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert user(app, "market4").groups == ["front_desk", "market_dept"]
    assert Api(app).client.post("/api/auth/token", json={"username": "market4",
                                                          "password": NEW_PASSWORD}).status_code == 200
    # A name taken is a conflict
    assert page.post("/admin/users", data={"username": "market4", "password": NEW_PASSWORD,
                                           "display_name": "x"}).status_code == 409
    # When its groups, supervision and roles change
    page.get("/admin/users/market4")
    r = page.post("/admin/users/market4", data={"display_name": "市场监管局 科员", "groups": ["market_dept"],
                                                "supervises_new": "health_dept", "roles": ["office_supervisor"]})
    assert r.status_code == 302
    changed = user(app, "market4")
    assert (changed.display_name, changed.groups, changed.supervises, changed.roles) == (
        "市场监管局 科员", ["market_dept"], ["health_dept"], ["office_supervisor"])
    # When it is disabled, its sessions end at once and it can no longer sign in
    worker = Api(app)
    worker.login("market4", NEW_PASSWORD)
    assert worker.get("/api/me").status_code == 200
    assert page.post("/admin/users/market4/active", data={"active": "0"}).status_code == 302
    assert worker.get("/api/me").status_code == 401
    assert Api(app).client.post("/api/auth/token", json={"username": "market4",
                                                          "password": NEW_PASSWORD}).status_code == 401
    # A password reset follows the password rules, and ends the account's sessions too
    assert page.post("/admin/users/general1/password", data={"password": "general1-Abc123"}).status_code == 422
    r = page.post("/admin/users/general1/password", data={"password": NEW_PASSWORD})
    assert r.status_code == 302
    assert Api(app).client.post("/api/auth/token", json={"username": "general1",
                                                          "password": NEW_PASSWORD}).status_code == 200
    # Then every change is a security event naming who did it and to which account
    assert [(e, who) for e, who, _d in events(app)] == [
        ("account_created", "admin"), ("account_changed", "admin"), ("account_disabled", "admin"),
        ("password_reset", "admin")]
    assert all("market4" in d for e, _w, d in events(app)[:3]) and "general1" in events(app)[3][2]
    # and the groups page lists each department's members and supervisors
    html = page.get("/admin/groups").get_data(as_text=True)
    assert 'data-group="health_dept"' in html and "市场监管局 科员" in html


def test_an_admin_cannot_lock_the_office_out(sqlite_app):
    app = sqlite_app
    page = admin(app)
    page.get("/admin/users/admin")
    # not his own account, nor his own administrator role
    assert page.post("/admin/users/admin/active", data={"active": "0"}).status_code == 409
    r = page.post("/admin/users/admin", data={"display_name": "系统管理员"})
    assert r.status_code == 409 and user(app, "admin").is_admin and user(app, "admin").active
    # an unknown account is 404, a bad group name 422 naming the field
    assert page.post("/admin/users/nobody/active", data={"active": "0"}).status_code == 404
    r = page.post("/admin/users/general1", data={"display_name": "综合科", "groups_new": "bad group!"})
    assert r.status_code == 422 and 'data-field="groups"' in r.get_data(as_text=True)
    assert user(app, "general1").groups == ["general_dept"]


def test_catalog_versions_and_loading_a_file(sqlite_app):
    from intake.cli import load_configured

    app = sqlite_app
    load_configured(app)
    page = admin(app)
    html = page.get("/admin/catalog").get_data(as_text=True)
    assert "食品经营许可（新办）" in html and "第 1 版（共 1 版）" in html
    # When a changed item is loaded from a file, it gets version 2 (by the administrator)
    text = (ROOT / "bpmn/catalog/market.yaml").read_text(encoding="utf-8").replace("promised_working_days: 5",
                                                                                   "promised_working_days: 4", 1)
    r = page.post("/admin/catalog", data={"file": (__import__("io").BytesIO(text.encode()), "market.yaml")},
                  content_type="multipart/form-data")
    assert r.status_code == 200 and "110105-XK-0001：第 2 版" in r.get_data(as_text=True)
    html = page.get("/admin/catalog/110105-XK-0001").get_data(as_text=True)
    assert 'data-version="2"' in html and 'data-version="1"' in html and "admin" in html
    # A file with a mistake is refused whole, naming file, line and field
    bad = text.replace("promised_working_days: 4", "promised_working_days: 40", 1)
    r = page.post("/admin/catalog", data={"file": (__import__("io").BytesIO(bad.encode()), "market.yaml")},
                  content_type="multipart/form-data")
    assert r.status_code == 422 and "market.yaml" in r.get_data(as_text=True)
    assert "promised_working_days" in r.get_data(as_text=True)
    assert 'data-version="3"' not in page.get("/admin/catalog/110105-XK-0001").get_data(as_text=True)
    assert page.post("/admin/catalog", data={}).status_code == 422
    assert page.get("/admin/catalog/NO-SUCH").status_code == 404


@pytest.mark.parametrize(("today", "warned"), [("2026-06-01", False), ("2026-11-20", True)])
def test_the_calendar_page(sqlite_app, today, warned):
    page = admin(sqlite_app)
    with clock.frozen(datetime.fromisoformat(f"{today}T10:00:00").replace(tzinfo=office.zone)):
        html = page.get("/admin/calendar").get_data(as_text=True)
    assert 'data-year="2026" data-status="official"' in html
    assert ('id="next-year-missing"' in html) is warned
