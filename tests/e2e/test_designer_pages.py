"""The designer's pages and the diagram routes over HTTP (the browser tests draw them in Chromium)."""

from __future__ import annotations

import io

from engine import broker
from tests.conftest import ROOT, Api, Browser, deploy_reference
from tests.e2e.versions import CLASSIFY, with_legal_review


def designer(app) -> Browser:
    browser = Browser(app)
    browser.login("designer1")
    browser.get("/designer/deploy")  # the form's CSRF token
    return browser


def upload(browser: Browser, *files: tuple[str, bytes], process_id: str = ""):
    data = {"file": [(io.BytesIO(content), name) for name, content in files], "process_id": process_id}
    return browser.post("/designer/deploy", data=data, content_type="multipart/form-data")


def test_an_upload_without_a_file_is_422_naming_the_field(sqlite_app):
    r = upload(designer(sqlite_app))
    assert r.status_code == 422 and "no file chosen" in r.get_data(as_text=True)


def test_a_file_that_is_not_xml_is_refused_with_its_line_and_nothing_is_deployed(sqlite_app):
    r = upload(designer(sqlite_app), ("garbage.bpmn", b"\xff\xfe not <xml at all"))
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "not well-formed XML" in page and "garbage.bpmn:1" in page
    assert Api(sqlite_app, "admin").get("/api/definitions").get_json() == []


def test_a_good_upload_deploys_a_new_version_and_its_page_lists_the_new_step(sqlite_app):
    deploy_reference(sqlite_app)
    browser = designer(sqlite_app)
    r = upload(browser, ("one_window.bpmn", with_legal_review().encode()), ("classify.dmn", CLASSIFY))
    assert r.status_code == 302 and r.headers["Location"].endswith("/versions/2?deployed=created")
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-element="legal_review"' in page and "已部署为新版本 v2" in page
    listing = browser.get("/designer/").get_data(as_text=True)
    assert 'data-version="2"' in listing and 'data-version="1"' in listing
    # and the version's diagram data carries its files, the DMN too, with no problem marked
    data = Api(sqlite_app, "designer1").get("/api/definitions/one_window/versions/2/diagram").get_json()
    assert [(d["name"], d["kind"]) for d in data["diagrams"]] == [("one_window.bpmn", "bpmn"),
                                                                    ("classify.dmn", "dmn")]
    assert data["diagrams"][0]["markers"] == {"problems": {}}


def test_a_cases_diagram_data_marks_where_it_is_and_where_it_went(sqlite_app):
    deploy_reference(sqlite_app)
    window = Api(sqlite_app, "window1")
    started = window.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
    no = started.get_json()["case_no"]
    broker.drain()
    data = Api(sqlite_app, "admin").get(f"/api/cases/{no}/diagram").get_json()
    markers = data["diagrams"][0]["markers"]
    assert markers["current"] == ["intake"] and markers["done"] == {"start": 1}
    assert markers["overdue"] == [] and data["version"] == 1
    assert (ROOT / "bpmn/processes/one_window.bpmn").read_text(encoding="utf-8") == data["diagrams"][0]["xml"]


def test_an_administrator_migrates_from_the_version_page_after_a_dry_run(sqlite_app):
    from tests.e2e.versions import deploy_text

    deploy_reference(sqlite_app)
    window = Api(sqlite_app, "window1")
    started = window.post("/api/cases", json={"process_id": "one_window", "data": {"category": "food"}})
    no = started.get_json()["case_no"]
    assert deploy_text(sqlite_app, with_legal_review()) == 2
    admin = Browser(sqlite_app)
    admin.login("admin")
    page = "/designer/processes/one_window/versions/2"
    assert "迁移办理中的案件到 v2" in admin.get(page).get_data(as_text=True)
    # When the administrator runs it as a dry run, the case would move and stays on v1
    dry = admin.post(f"{page}/migrate", data={"map": "", "dry_run": "1"}).get_data(as_text=True)
    assert f'data-case="{no}" data-outcome="would migrate"' in dry
    assert Api(sqlite_app, "admin").get(f"/api/cases/{no}").get_json()["version"] == 1
    # and a map naming what does not exist is refused naming it
    wrong = admin.post(f"{page}/migrate", data={"map": "intake=nowhere", "dry_run": "1"})
    assert wrong.status_code == 422 and "no element &#39;nowhere&#39;" in wrong.get_data(as_text=True)
    # When it runs for real, the case is on v2
    done = admin.post(f"{page}/migrate", data={"map": ""}).get_data(as_text=True)
    assert f'data-case="{no}" data-outcome="migrated"' in done
    assert Api(sqlite_app, "admin").get(f"/api/cases/{no}").get_json()["version"] == 2
    # A designer sees the version but not the form
    designer_view = designer(sqlite_app).get(page).get_data(as_text=True)
    assert "legal_review" in designer_view and "迁移办理中的案件" not in designer_view
