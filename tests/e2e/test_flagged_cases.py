"""An administrator sees the cases the state guard flagged, and clears a flag with a note that goes
into the case history; nobody else sees or clears them."""

from __future__ import annotations

import pytest

from engine.spiff import prune
from tests.conftest import Api, Browser, deploy_reference


def _flagged_case(app, monkeypatch) -> str:
    # a guard limit smaller than any real state: the case is flagged when it starts
    deploy_reference(app)
    monkeypatch.setattr(prune.LIMITS, "max_bytes", 500)
    r = Api(app, "window1").post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["case_no"]


def test_an_administrator_lists_flagged_cases_and_clears_one_with_a_note(any_app, monkeypatch):
    # Given a flagged case and one that is not
    no = _flagged_case(any_app, monkeypatch)
    monkeypatch.setattr(prune.LIMITS, "max_bytes", 2_000_000)
    plain = Api(any_app, "window1").post("/api/cases", json={"process_id": "one_window",
                                                            "data": {"category": "food"}}).get_json()["case_no"]
    admin = Api(any_app, "admin")
    # When the administrator lists the flagged cases
    listed = admin.get("/api/admin/flagged-cases").get_json()
    # Then only the flagged one is there, with its reason and when it was flagged
    assert [r["case_no"] for r in listed] == [no]
    assert "bytes" in listed[0]["reason"] and listed[0]["flagged_at"] and listed[0]["status"] == "running"
    assert plain not in {r["case_no"] for r in listed}
    # When the flag is cleared without a note: refused, nothing changes
    r = admin.post(f"/api/cases/{no}/clear-flag", json={"note": "  "})
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    assert [x["case_no"] for x in admin.get("/api/admin/flagged-cases").get_json()] == [no]
    # When it is cleared with a note
    r = admin.post(f"/api/cases/{no}/clear-flag", json={"note": "raised the limit after review"})
    assert r.status_code == 200, r.get_json()
    # Then the list is empty and the history says who cleared which reason, and why
    assert admin.get("/api/admin/flagged-cases").get_json() == []
    history = admin.get(f"/api/cases/{no}").get_json()["history"]
    cleared = [e for e in history if e["what"] == "case_flag_cleared"]
    assert len(cleared) == 1 and cleared[0]["who"] == "admin"
    assert cleared[0]["data"]["note"] == "raised the limit after review" and "bytes" in cleared[0]["data"]["reason"]
    # And clearing it again is a conflict (someone else was first)
    assert admin.post(f"/api/cases/{no}/clear-flag", json={"note": "again"}).status_code == 409
    assert admin.post("/api/cases/NO-SUCH/clear-flag", json={"note": "x"}).status_code == 404


@pytest.mark.parametrize("user", ["window1", "market_lead"])
def test_others_neither_see_nor_clear_flags(sqlite_app, monkeypatch, user):
    no = _flagged_case(sqlite_app, monkeypatch)
    api = Api(sqlite_app, user)
    assert api.get("/api/admin/flagged-cases").status_code == 403
    assert api.post(f"/api/cases/{no}/clear-flag", json={"note": "mine"}).status_code == 403
    assert [r["case_no"] for r in Api(sqlite_app, "admin").get("/api/admin/flagged-cases").get_json()] == [no]


def test_the_flagged_cases_page_clears_a_flag(sqlite_app, monkeypatch):
    no = _flagged_case(sqlite_app, monkeypatch)
    web = Browser(sqlite_app)
    assert web.login("admin").status_code == 302
    page = web.get("/admin/flagged").get_data(as_text=True)
    assert no in page and "异常案件" in page
    r = web.post("/admin/flagged", data={"case_no": no, "note": ""})
    assert r.status_code == 422 and no in web.get("/admin/flagged").get_data(as_text=True)
    r = web.post("/admin/flagged", data={"case_no": no, "note": "已核查"})
    assert r.status_code == 200 and "没有被标记的案件" in r.get_data(as_text=True)
    # a caseworker is refused the page
    other = Browser(sqlite_app)
    other.login("market1")
    assert other.get("/admin/flagged").status_code == 403
