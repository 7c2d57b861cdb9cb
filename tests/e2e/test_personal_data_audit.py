"""The personal-data audit log (PIPL): every view of an ID or phone number whole writes a row in the
same request, no row means no view, and the log can be read and exported by administrators only,
never changed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from engine import audit, clock
from engine.models import AuditEntry
from tests.conftest import Api, Browser
from tests.e2e.intake_helpers import FOOD, MONDAY, ORG_ID, PERSON_ID, SOLE_TRADER, apply, setup_office, travel

PHONE = "13912345678"
MASKED = "110101********1233"


@pytest.fixture
def office_app(any_app):
    setup_office(any_app)
    travel(MONDAY)
    yield any_app
    clock.set_default(None)


def rows(app, **where) -> list[AuditEntry]:
    with app.extensions["onewindow.db"].read() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, name) == value)
        return list(s.scalars(stmt))


def browser(app, username: str) -> Browser:
    client = Browser(app)
    assert client.login(username).status_code == 302
    return client


def person_case(app) -> str:
    return apply(app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明", phone=PHONE)["case_no"]


def test_every_whole_view_writes_one_row_and_masked_views_none(office_app):
    # Given a person's application, registered at the window
    no = person_case(office_app)
    window, other = Api(office_app, "window1"), Api(office_app, "housing1")
    page = browser(office_app, "window1")
    assert rows(office_app) == []

    # When another department looks (engine.policy: not involved, so the case does not exist for them)
    hidden = [other.get(f"/api/applications/{no}"), other.get(f"/api/cases/{no}/notices/receipt.html?full=1")]
    assert all(r.status_code == 404 and PERSON_ID not in r.get_data(as_text=True) for r in hidden)
    # ... each refusal is a security event naming the case, and nothing personal was shown
    assert [(r.category, r.event, r.username, r.case_no) for r in rows(office_app)] == [
        ("security", "permission_refused", "housing1", no)] * 2
    assert all("answered 404" in r.detail for r in rows(office_app))
    # And the front desk opens what is not asked whole (a notice without full=1, the window's lists)
    masked = [window.get(f"/api/cases/{no}/notices/receipt.html"), page.get("/window/")]
    # Then they see it masked and nothing is written
    assert all(r.status_code == 200 and PERSON_ID not in r.get_data(as_text=True) for r in masked)
    assert rows(office_app, category="personal_data") == []

    # When the front desk opens the application, its case page, a full notice, and looks the number up
    shown = [window.get(f"/api/applications/{no}"), page.get(f"/window/cases/{no}"),
             window.get(f"/api/cases/{no}/notices/receipt.pdf?full=1"),
             page.get(f"/window/apply?service={FOOD}&id_number={PERSON_ID}")]
    assert [r.status_code for r in shown] == [200] * 4
    assert shown[0].get_json()["applicant"]["id_number"] == PERSON_ID
    assert shown[0].get_json()["applicant"]["phone"] == PHONE
    assert PERSON_ID in shown[1].get_data(as_text=True) and PHONE in shown[1].get_data(as_text=True)

    # Then one row each: who, whose (masked), which case, when, why, from where
    written = rows(office_app, category="personal_data")
    assert [(r.event, r.detail) for r in written] == [
        ("case_handling", "application API"), ("case_handling", "window case page"),
        ("notice_print", "receipt.pdf"), ("id_lookup", f"materials on file for {FOOD}")]
    assert {(r.category, r.username, r.display_name, r.subject, r.client) for r in written} == {
        ("personal_data", "window1", "window1", MASKED, "127.0.0.1")}
    assert len({r.subject_ref for r in written}) == 1 and written[0].subject_ref.startswith("applicant:")
    assert [r.case_no for r in written] == [no, no, no, None]
    assert {r.at for r in written} == {MONDAY}
    assert all(PERSON_ID not in str(vars(r)) and PHONE not in str(vars(r)) for r in written)


def _refuse_audit_inserts(app) -> None:
    db = app.extensions["onewindow.db"]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN RAISE EXCEPTION 'audit store down'; END $$"))
            conn.execute(sa.text("CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                                 "FOR EACH ROW EXECUTE FUNCTION audit_down()"))
        else:
            conn.execute(sa.text("CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                                 "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"))


def test_no_audit_row_no_whole_view(office_app):
    # Given an application, and an audit table that refuses every new row
    no = person_case(office_app)
    _refuse_audit_inserts(office_app)
    window = Api(office_app, "window1")

    # When the front desk asks for the data whole, through the API, a full notice and the case page
    api = window.get(f"/api/applications/{no}")
    full = window.get(f"/api/cases/{no}/notices/receipt.html?full=1")
    page = browser(office_app, "window1").get(f"/window/cases/{no}")

    # Then each is refused with 503 and shows nothing whole
    assert api.status_code == 503 and api.headers["Content-Type"].startswith("application/problem+json")
    assert "audit" in api.get_json()["detail"]
    assert full.status_code == 503 and page.status_code == 503
    assert all(PERSON_ID not in r.get_data(as_text=True) and PHONE not in r.get_data(as_text=True)
               for r in (api, full, page))
    # ... while a view that shows nothing whole needs no row and still answers
    masked = window.get(f"/api/cases/{no}/notices/receipt.html")
    assert masked.status_code == 200 and PERSON_ID not in masked.get_data(as_text=True)


def test_the_log_refuses_updates_and_deletes_of_recent_rows(any_app):
    # Given a row written now and one written seven months ago
    db = any_app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        audit.security_event(uow.session, audit.LOGIN_FAILED, username="mallory")
        with clock.frozen(datetime.now(UTC) - timedelta(days=214)):
            audit.security_event(uow.session, audit.LOGIN_FAILED, username="old")
    recent, old = rows(any_app)

    # When anyone changes or deletes the recent row through the database itself
    for statement in ("UPDATE audit_log SET username = 'nobody'", f"DELETE FROM audit_log WHERE id = {recent.id}"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE audit_log"))

    # Then it is unchanged; only a row past the six months' retention may be removed (by the operator)
    assert [(r.id, r.username) for r in rows(any_app)] == [(recent.id, "mallory"), (old.id, "old")]
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM audit_log WHERE id = {old.id}"))
    assert [r.id for r in rows(any_app)] == [recent.id]


def test_the_app_has_no_way_to_change_the_log(sqlite_app):
    # Given every route and every command of the app
    audit_rules = [r for r in sqlite_app.url_map.iter_rules() if "audit" in r.rule]
    commands = set(sqlite_app.cli.list_commands(sqlite_app.app_context()))
    # Then the log's routes only read, and no command names it
    assert {r.rule for r in audit_rules} == {"/api/admin/audit", "/api/admin/audit.csv", "/admin/audit"}
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in audit_rules)
    assert not [c for c in commands if "audit" in c]


def _seed_log(app) -> None:
    # three people over three days: two views of personal data and one refused permission
    travel(MONDAY)
    no = person_case(app)
    Api(app, "window1").get(f"/api/applications/{no}")
    travel(MONDAY + timedelta(days=1))
    Api(app, "admin").get(f"/api/cases/{no}/notices/receipt.html?full=1")
    travel(MONDAY + timedelta(days=2))
    assert Api(app, "market1").get("/api/admin/audit").status_code == 403


def test_administrators_list_the_log_with_filters_and_pages(office_app):
    # Given a log of three days
    _seed_log(office_app)
    admin = Api(office_app, "admin")

    # When the administrator lists it all
    listed = admin.get("/api/admin/audit").get_json()
    # Then newest first, the refusal recorded as a security event with who and where
    assert [(i["category"], i["event"], i["username"]) for i in listed["items"]] == [
        ("security", "permission_refused", "market1"), ("personal_data", "notice_print", "admin"),
        ("personal_data", "case_handling", "window1")]
    assert "GET /api/admin/audit" in listed["items"][0]["detail"] and listed["next"] is None
    assert listed["items"][2]["at_local"] == "2026-03-02 10:00:00" and listed["items"][2]["subject"] == MASKED

    # When filtered by user, subject (whole or masked number, or reference), case, category and days
    def events(**params) -> list[str]:
        r = admin.get("/api/admin/audit", query_string=params)
        assert r.status_code == 200, r.get_json()
        return [i["event"] for i in r.get_json()["items"]]

    ref = listed["items"][2]["subject_ref"]
    assert events(user="window1") == ["case_handling"]
    assert events(subject=PERSON_ID) == events(subject=MASKED) == events(subject=ref) == [
        "notice_print", "case_handling"]
    assert events(subject=ORG_ID) == [] and events(case_no="OW-NONE") == []
    assert events(case_no=listed["items"][2]["case_no"]) == ["notice_print", "case_handling"]
    assert events(category="security") == ["permission_refused"]
    assert events(**{"from": "2026-03-03", "to": "2026-03-03"}) == ["notice_print"]
    assert events(**{"from": "2026-03-03"}) == ["permission_refused", "notice_print"]

    # When paged two at a time: the next link carries the filters and ends
    first = admin.get("/api/admin/audit?limit=2&category=personal_data").get_json()
    assert [i["event"] for i in first["items"]] == ["notice_print", "case_handling"] and first["next"] is None
    first = admin.get("/api/admin/audit?limit=2").get_json()
    second = admin.get(first["next"]).get_json()
    assert [i["event"] for i in second["items"]] == ["case_handling"] and second["next"] is None

    # And bad filters are refused naming the field
    for params, field in [({"from": "yesterday"}, "from"), ({"category": "x"}, "category"),
                          ({"limit": "0"}, "limit"), ({"before": "x"}, "before"),
                          ({"from": "2026-03-04", "to": "2026-03-02"}, "from"), ({"user": "u" * 65}, "user")]:
        r = admin.get("/api/admin/audit", query_string=params)
        assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == field, params


def test_administrators_export_the_log_and_the_export_is_recorded(office_app):
    # Given a log of three days
    _seed_log(office_app)
    admin = Api(office_app, "admin")
    before = len(rows(office_app))

    # When the administrator exports the personal-data rows
    r = admin.get("/api/admin/audit.csv?category=personal_data")

    # Then a CSV spreadsheets read as UTF-8, with the header and the two rows, nothing whole
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff") and PERSON_ID not in text
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(t["event"], t["event_label"], t["subject"]) for t in table] == [
        ("notice_print", "打印通知书", MASKED), ("case_handling", "办理案件", MASKED)]
    # ... and the export is itself a row of the log, with its filters
    exported = rows(office_app)[before:]
    assert [(e.category, e.event, e.username) for e in exported] == [("security", "audit_exported", "admin")]
    assert "2 rows" in exported[0].detail and "personal_data" in exported[0].detail


@pytest.mark.parametrize("user", ["window1", "market_lead", "director"])
def test_nobody_else_reads_or_exports_the_log(sqlite_app, user):
    api = Api(sqlite_app, user)
    assert api.get("/api/admin/audit").status_code == 403
    assert api.get("/api/admin/audit.csv").status_code == 403
    assert browser(sqlite_app, user).get("/admin/audit").status_code == 403
    # each refusal is itself a security event
    assert [r.event for r in rows(sqlite_app, username=user)] == ["permission_refused"] * 3


def test_the_audit_page_shows_the_log_with_filters(office_app):
    # Given a log of three days
    _seed_log(office_app)
    page = browser(office_app, "admin")
    # When the administrator opens the page, filtered to one user
    whole = page.get("/admin/audit").get_data(as_text=True)
    one = page.get("/admin/audit?user=window1").get_data(as_text=True)
    # Then the rows show in office time with their purpose, and the export link keeps the filter
    assert "办理案件" in whole and "打印通知书" in whole and "越权操作被拒绝" in whole
    assert "2026-03-02 10:00:00" in whole and MASKED in whole and PERSON_ID not in whole
    assert "打印通知书" not in one and 'href="/api/admin/audit.csv?user=window1"' in one
    assert page.get("/admin/audit?from=nonsense").status_code == 422
