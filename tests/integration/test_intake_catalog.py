"""The catalog in the database: `onewindow catalog load`, versions by content hash, the demo hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.conftest import ROOT, Api


def runner(app):
    return app.test_cli_runner()


def versions(app) -> dict[str, list[int]]:
    from intake.models import CatalogItem

    out: dict[str, list[int]] = {}
    with app.extensions["onewindow.db"].read() as s:
        for row in s.scalars(select(CatalogItem).order_by(CatalogItem.code, CatalogItem.version)):
            out.setdefault(row.code, []).append(row.version)
    return out


def test_catalog_load_is_versioned_by_content(any_app, tmp_path):
    # Given the demo catalog loaded once
    r = runner(any_app).invoke(args=["catalog", "load", str(ROOT / "bpmn/catalog")])
    assert r.exit_code == 0, r.output
    first = versions(any_app)
    assert len(first) >= 7 and all(v == [1] for v in first.values())
    # When it is loaded again unchanged, nothing is added
    r = runner(any_app).invoke(args=["catalog", "load", str(ROOT / "bpmn/catalog")])
    assert r.exit_code == 0 and "0 item version(s) added" in r.output
    # When one item changes its promised limit, that item alone gets version 2
    text = (ROOT / "bpmn/catalog/market.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "market.yaml"
    changed.write_text(text.replace("promised_working_days: 5", "promised_working_days: 4", 1), encoding="utf-8")
    r = runner(any_app).invoke(args=["catalog", "load", str(changed)])
    assert r.exit_code == 0, r.output
    assert "110105-XK-0001: version 2" in r.output
    after = versions(any_app)
    assert after["110105-XK-0001"] == [1, 2] and after["110105-XK-0002"] == [1]
    guide = any_app.test_client().get("/api/services/110105-XK-0001").get_json()
    assert guide["promised_working_days"] == 4 and guide["catalog_version"] == 2


def test_a_bad_file_is_refused_whole_naming_file_item_and_field(any_app, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "code: X-1\nname: 测试\ndepartment: market_dept\nprocess: one_window\ncase_type: promised\n"
        "statutory_working_days: 5\npromised_working_days: 9\ncategory: food\nvisits: 0\n"
        "materials: [{code: a, name: A, required: true, reusable: false}]\n", encoding="utf-8")
    r = runner(any_app).invoke(args=["catalog", "load", str(bad)])
    assert r.exit_code == 1
    assert "bad.yaml" in r.output and "promised_working_days" in r.output
    assert versions(any_app) == {}
    r = runner(any_app).invoke(args=["catalog", "load", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 1


def test_demo_hook_loads_the_catalog_and_submits_applications(sqlite_app):
    from intake.models import Application
    from onewindow import demo

    sqlite_app.config["ONEWINDOW"].processes_dir = str(ROOT / "bpmn/processes")
    with sqlite_app.extensions["onewindow.db"].engine.begin() as conn:  # the demo wants a database without users
        conn.execute(text("DELETE FROM users"))
    demo.seed(sqlite_app)
    with pytest.raises(demo.NotAnEmptyDatabase):  # never twice: the second finds the demo's own users
        demo.seed(sqlite_app)
    with sqlite_app.extensions["onewindow.db"].read() as s:
        case_nos = list(s.scalars(select(Application.case_no).order_by(Application.id)))
        assert len(case_nos) == 4
    # the second demo application reuses the first one's licence and ID proof
    desk = Api(sqlite_app)
    desk.login("window1", demo.PASSWORD)
    view = desk.get(f"/api/applications/{case_nos[1]}").get_json()
    assert {m["code"] for m in view["materials"] if m["source"] == "reused"} == {"business_licence", "id_card"}
    assert view["status"] == "correction"
    # one waits at 批准 after two signed opinions; one was refused with its reasons and handed out
    lead = Api(sqlite_app)
    lead.login("market_lead", demo.PASSWORD)
    waiting = lead.get(f"/api/applications/{case_nos[0]}").get_json()
    assert waiting["stage"] == ["批准"] and [o["step"] for o in waiting["opinions"]] == ["intake", "handle", "review"]
    refused = desk.get(f"/api/applications/{case_nos[3]}").get_json()
    assert refused["status_label"] == "已办结（不予许可）"
    assert {"approval_form", "decision", "delivery_receipt"} <= set(refused["notices"])
    assert Path(sqlite_app.config["ONEWINDOW"].upload_dir).is_dir()
    with sqlite_app.extensions["onewindow.db"].read() as s:
        from engine.models import ProcessDefinition

        assert s.scalar(select(func.count()).select_from(ProcessDefinition)
                        .where(ProcessDefinition.process_id == "bad_review_followup")) == 1
