"""Intake through the HTTP API, on SQLite and PostgreSQL: applicants, reuse, the three acceptance
paths with their notices, issuance, the public query and the rating."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from engine import clock, office
from tests.conftest import Api
from tests.e2e.intake_helpers import (
    BAD_ORG_ID,
    FOOD,
    FOOD_CHANGE,
    MONDAY,
    ORG_ID,
    PERSON_ID,
    PNG,
    SOLE_TRADER,
    all_food_materials,
    application,
    apply,
    approve_in_back_office,
    b64,
    cn,
    decide,
    file,
    notice,
    pdf_text,
    row_counts,
    setup_office,
    travel,
)


@pytest.fixture
def office_app(any_app):
    setup_office(any_app)
    travel(MONDAY)
    yield any_app
    clock.set_default(None)


def wd(start: date, n: int) -> date:
    return office.working_days.add(start, n, provisional=True)[0]


# 1. A person and an organization apply; invalid numbers are refused with the field named.

def test_person_and_organization_apply(office_app):
    # Given the demo catalog
    # When a person applies for a sole-trader registration and an organization for a food licence
    person = apply(office_app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明",
                   phone="13912345678", materials=[{"code": "registration_form", "file": file("form.pdf")},
                                                   {"code": "id_card", "file": file("id.png", PNG)}])
    org = apply(office_app, FOOD, materials=[{"code": "application_form", "file": file("a.pdf")}])
    # Then both are received, with the checklist's gaps listed and the promised date told up front
    assert person["status"] == "received" and person["case_no"].startswith("OW20260302")
    assert [m["code"] for m in person["missing_materials"]] == ["premises"]
    assert {m["code"] for m in org["missing_materials"]} == {
        "business_licence", "id_card", "premises", "layout", "safety_rules", "safety_manager"}
    assert org["due_date"] == wd(date(2026, 3, 2), 5).isoformat()
    assert person["reused_materials"] == [] and org["reused_materials"] == []
    # the case runs the item's process with the item's data: the front desk has the intake task
    view = application(office_app, org["case_no"])
    assert view["intake_task"]["group"] == "front_desk" and view["status"] == "received"
    data = Api(office_app, "admin").get(f"/api/cases/{org['case_no']}").get_json()["data"]
    assert data["category"] == "food" and data["service_code"] == FOOD
    # the applicant's number and phone are whole for the front desk; another department does not
    # even learn that the case exists
    assert view["applicant"]["id_number"] == ORG_ID and view["applicant"]["phone"] == "13800138000"
    assert Api(office_app, "health1").get(f"/api/applications/{person['case_no']}").status_code == 404


@pytest.mark.parametrize(("kind", "number", "field"), [
    ("person", "110101199003071234", "applicant.id_number"),  # wrong check character
    ("person", "110101199002301231", "applicant.id_number"),  # 30 February
    ("organization", BAD_ORG_ID, "applicant.id_number"),
    ("alien", PERSON_ID, "applicant.kind"),
])
def test_invalid_numbers_are_refused_naming_the_field_and_nothing_is_written(office_app, kind, number, field):
    before = row_counts(office_app)
    body = apply(office_app, FOOD, kind=kind, id_number=number, name="张三",
                 materials=[{"code": "application_form", "file": file("a.pdf")}], expect=422)
    assert field in [p.get("field") for p in body["problems"]]
    assert row_counts(office_app) == before
    uploads = Path(office_app.config["ONEWINDOW"].upload_dir)
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"service_code": "999-NOPE"}, 422, "service_code"),
    ({"materials": [{"code": "no_such", "file": file("x.pdf")}]}, 422, "materials[0].code"),
    ({"materials": [{"code": "layout", "file": {"name": "x.pdf", "content_base64": "***"}}]}, 422,
     "materials[0].file.content_base64"),
    ({"materials": [{"code": "layout", "file": {"name": "x.exe", "content_base64": b64(b"MZ\x90\x00")}}]}, 422,
     "materials[0].file"),
    ({"channel": "fax"}, 422, "channel"),
    ({"applicant": "nobody"}, 422, "applicant"),
])
def test_malformed_applications_write_nothing(office_app, change, status, field):
    body = {"service_code": FOOD, "channel": "window",
            "applicant": {"kind": "organization", "id_number": ORG_ID, "name": "示范餐饮管理有限公司",
                          "phone": "13800138000"}, "materials": [], **change}
    before = row_counts(office_app)
    r = Api(office_app, "window1").post("/api/applications", json=body)
    assert r.status_code == status, r.get_json()
    assert r.mimetype == "application/problem+json"
    assert field in [p.get("field") for p in r.get_json()["problems"]]
    assert row_counts(office_app) == before


def test_oversized_file_is_refused_before_anything_is_written(office_app):
    office_app.config["ONEWINDOW"].max_upload_bytes = 64
    before = row_counts(office_app)
    body = apply(office_app, FOOD, materials=[{"code": "layout", "file": file("big.pdf", b"%PDF-" + b"x" * 200)}],
                 expect=413)
    assert body["status"] == 413
    assert row_counts(office_app) == before


def test_not_json_and_not_front_desk(office_app):
    r = Api(office_app, "window1").client.post("/api/applications", data="x",
                                               headers=Api(office_app, "window1").headers)
    assert r.status_code == 422
    r = Api(office_app, "market1").post("/api/applications", json={"service_code": FOOD})
    assert r.status_code in (403, 422)
    assert Api(office_app).post("/api/applications", json={}).status_code == 401


def test_uscc_failing_its_check_passes_only_with_an_officers_reason(office_app):
    out = apply(office_app, FOOD, id_number=BAD_ORG_ID, override_reason="已核对营业执照原件，代码无误")
    view = application(office_app, out["case_no"])
    assert view["overrides"][0]["field"] == "applicant.id_number"
    assert view["overrides"][0]["officer"] == "window1"
    history = Api(office_app, "admin").get(f"/api/cases/{out['case_no']}").get_json()["history"]
    assert any(e["what"] == "applicant_override" and "营业执照" in e["data"]["reason"] for e in history)


# 2. The second application reuses the reusable materials and asks only for the rest.

def test_second_application_reuses_reusable_materials(office_app):
    first = apply(office_app, FOOD, materials=all_food_materials())
    assert first["missing_materials"] == []
    # When the same organization applies for the change of its licence, bringing only the form
    second = apply(office_app, FOOD_CHANGE, materials=[{"code": "change_form", "file": file("c.pdf")}])
    # Then the licence and the ID proof are taken from the first case, not asked for again
    assert {m["code"] for m in second["reused_materials"]} == {"business_licence", "id_card"}
    assert all(m["from_case_no"] == first["case_no"] for m in second["reused_materials"])
    assert {m["code"] for m in second["missing_materials"]} == {"food_licence", "change_evidence"}
    view = application(office_app, second["case_no"])
    reused = [m for m in view["materials"] if m["source"] == "reused"]
    assert {m["code"] for m in reused} == {"business_licence", "id_card"}
    assert all(m["sha256"] and m["size"] for m in reused)
    # the stored file is the first one, content-addressed, kept once
    uploads = Path(office_app.config["ONEWINDOW"].upload_dir)
    for m in reused:
        stored = uploads / m["sha256"][:2] / m["sha256"][2:4] / m["sha256"]
        assert stored.is_file()
    # a non-reusable material is never reused
    third = apply(office_app, FOOD, materials=[])
    assert {m["code"] for m in third["reused_materials"]} == {"business_licence", "id_card"}
    assert "premises" in {m["code"] for m in third["missing_materials"]}


# 3. Accept, refuse and correction end to end, each notice in HTML and PDF.

def check_notice(app, case_no: str, kind: str, *texts: str) -> None:
    html = notice(app, case_no, kind, "html")
    assert html.status_code == 200, html.get_data(as_text=True)[:500]
    page = html.get_data(as_text=True)
    pdf = notice(app, case_no, kind, "pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    for t in (case_no, *texts):
        assert t in page, (kind, t)
        assert t in text, (kind, t)


def test_accept_path_to_issuance_public_query_and_bad_rating(office_app):
    received = apply(office_app, FOOD, materials=all_food_materials())
    no = received["case_no"]
    check_notice(office_app, no, "receipt", cn(date(2026, 3, 2)))
    assert notice(office_app, no, "acceptance", "html").status_code == 404  # not accepted yet
    # bad decision values are refused naming the field, and the case does not move
    body = decide(office_app, no, {"decision": "acept"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["decision"]
    body = decide(office_app, no, {"decision": "accept", "missing": ["layout"]}, expect=422)
    assert "missing" in [p["field"] for p in body["problems"]]
    # When the front desk accepts on Tuesday
    travel(MONDAY + timedelta(days=1))
    decide(office_app, no, {"decision": "accept"})
    # Then the acceptance notice shows the acceptance day and the promised date
    accepted = date(2026, 3, 3)
    check_notice(office_app, no, "acceptance", cn(accepted), cn(wd(accepted, 5)))
    view = application(office_app, no)
    assert view["status"] == "accepted" and view["accepted_on"] == accepted.isoformat()
    # the back office decides, then the window issues
    approve_in_back_office(office_app, no)
    assert application(office_app, no)["status"] == "decided"
    window = Api(office_app, "window1")
    r = window.post(f"/api/cases/{no}/issuance", json={"delivery": "post"})
    assert r.status_code == 422
    assert {p["field"] for p in r.get_json()["problems"]} == {"certificate_no", "tracking_no"}
    r = window.post(f"/api/cases/{no}/issuance", json={"delivery": "drone", "certificate_no": "JY1"})
    assert [p["field"] for p in r.get_json()["problems"]] == ["delivery"]
    r = window.post(f"/api/cases/{no}/issuance", json={"result": "refused", "delivery": "pickup"})
    assert "result" in [p["field"] for p in r.get_json()["problems"]]
    # a rating before the case closes is refused
    tail = ORG_ID[-4:]
    anon = office_app.test_client()
    r = anon.post(f"/api/public/cases/{no}/rating", json={"id_tail": tail, "grade": "不满意"})
    assert r.status_code == 409
    r = window.post(f"/api/cases/{no}/issuance", json={
        "delivery": "post", "certificate_no": "JY11101050000001", "tracking_no": "SF1234567890",
        "handed_over_at": "2026-03-03T09:30:00+08:00"})
    assert r.status_code == 200, r.get_json()
    # Then the case is closed with its outcome
    assert r.get_json()["status"] == "completed"
    view = application(office_app, no)
    assert view["status"] == "completed" and view["status_label"] == "已办结（准予许可）"
    # the public query shows it, without anything personal
    r = anon.get(f"/api/public/cases/{no}?id_tail={tail}")
    assert r.status_code == 200
    public = r.get_json()
    assert public["status"] == "completed" and public["closed"] and public["result"] == "approved"
    assert public["promised_date"] == wd(accepted, 5).isoformat()
    flat = str(public)
    assert ORG_ID not in flat and "示范餐饮" not in flat and "13800138000" not in flat
    assert anon.get(f"/api/public/cases/{no}?id_tail=0000").status_code == 404
    assert anon.get(f"/api/public/cases/{no}").status_code == 404
    assert anon.get(f"/api/public/cases/OW0?id_tail={tail}").status_code == 404
    # a bad rating opens a follow-up task for the department's supervisor
    r = anon.post(f"/api/public/cases/{no}/rating", json={"id_tail": tail, "grade": "优秀"})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "grade"
    r = anon.post(f"/api/public/cases/{no}/rating", json={"id_tail": tail, "grade": "不满意",
                                                          "comment": "等候时间太长"})
    assert r.status_code == 201, r.get_json()
    followup = r.get_json()["followup_case_no"]
    assert followup and r.get_json()["bad"]
    queue = Api(office_app, "market_lead").get("/api/tasks?view=queue").get_json()["items"]
    task = [t for t in queue if t["case_no"] == followup]
    assert task and task[0]["element_id"] == "follow_up" and task[0]["group"] == "market_dept"
    assert anon.post(f"/api/public/cases/{no}/rating", json={"id_tail": tail, "grade": "满意"}).status_code == 409


def test_good_rating_opens_nothing(office_app):
    no = apply(office_app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明", phone="13912345678",
               materials=[{"code": c} for c in ("registration_form", "id_card", "premises")])["case_no"]
    decide(office_app, no, {"decision": "accept"})
    approve_in_back_office(office_app, no, result="refused")
    r = Api(office_app, "window1").post(f"/api/cases/{no}/issuance", json={"delivery": "pickup"})
    assert r.status_code == 200, r.get_json()
    assert application(office_app, no)["status_label"] == "已办结（不予许可）"
    r = office_app.test_client().post(f"/api/public/cases/{no}/rating",
                                      json={"id_tail": PERSON_ID[-4:], "grade": "very_satisfied"})
    assert r.status_code == 201 and r.get_json()["followup_case_no"] is None


def test_refusal_path(office_app):
    no = apply(office_app, FOOD)["case_no"]
    body = decide(office_app, no, {"decision": "reject"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["reason"]
    decide(office_app, no, {"decision": "reject", "reason": "该事项不属于本中心受理范围",
                            "redirect_office": "区卫生健康委员会"})
    view = application(office_app, no)
    assert view["status"] == "not_accepted" and view["case_status"] == "completed"
    check_notice(office_app, no, "refusal", cn(date(2026, 3, 2)), "该事项不属于本中心受理范围")
    assert notice(office_app, no, "acceptance", "pdf").status_code == 404
    public = office_app.test_client().get(f"/api/public/cases/{no}?id_tail={ORG_ID[-4:]}").get_json()
    assert public["status"] == "not_accepted" and public["promised_date"] is None


def test_correction_path_then_resubmission_then_acceptance(office_app):
    given = [m for m in all_food_materials() if m["code"] not in ("premises", "layout")]
    no = apply(office_app, FOOD, materials=given)["case_no"]
    body = decide(office_app, no, {"decision": "correction", "missing": ["premises", "layout", "passport"]},
                  expect=422)
    assert [p["field"] for p in body["problems"]] == ["missing[2]"]
    body = decide(office_app, no, {"decision": "correction", "missing": []}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["missing"]
    # 受理 is refused while required materials are missing, naming each; so is a correction that leaves one out
    body = decide(office_app, no, {"decision": "accept"}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["materials.premises", "materials.layout"]
    assert "经营场所使用证明" in body["problems"][0]["message"]
    body = decide(office_app, no, {"decision": "correction", "missing": ["premises"]}, expect=422)
    assert [p["field"] for p in body["problems"]] == ["missing"] and "layout" in body["problems"][0]["message"]
    assert application(office_app, no)["intake_task"] is not None  # nothing changed
    decide(office_app, no, {"decision": "correction", "missing": ["premises", "layout"],
                            "reason": "材料不齐全"})
    view = application(office_app, no)
    assert view["status"] == "correction" and view["intake_task"] is None
    check_notice(office_app, no, "correction", cn(date(2026, 3, 2)), "经营场所使用证明", "设备设施")
    # a resubmission with a material the item does not have is refused, nothing delivered
    window = Api(office_app, "window1")
    r = window.post(f"/api/cases/{no}/materials", json={"materials": [{"code": "passport"}]})
    assert r.status_code == 422 and r.get_json()["problems"][0]["field"] == "materials[0].code"
    assert application(office_app, no)["status"] == "correction"
    # When the applicant brings the materials on Thursday
    travel(MONDAY + timedelta(days=3))
    window = Api(office_app, "window1")
    r = window.post(f"/api/cases/{no}/materials", json={"materials": [
        {"code": "premises", "file": file("lease.pdf")}, {"code": "layout", "file": file("layout.pdf")}]})
    assert r.status_code == 200, r.get_json()
    # Then the case is back at the front desk, the materials on file, and it can be accepted
    view = application(office_app, no)
    assert view["status"] == "received" and view["intake_task"] is not None
    assert {m["code"] for m in view["materials"] if m["source"] == "resubmitted"} == {"premises", "layout"}
    # a second resubmission while not waiting is a conflict
    assert window.post(f"/api/cases/{no}/materials", json={"materials": [{"code": "layout"}]}).status_code == 409
    decide(office_app, no, {"decision": "accept"})
    accepted = date(2026, 3, 5)
    check_notice(office_app, no, "acceptance", cn(accepted), cn(wd(accepted, 5)))
    # the correction notice stays printable
    assert notice(office_app, no, "correction", "pdf").status_code == 200


def test_notices_mask_the_number_unless_a_handler_asks_for_it_whole(office_app):
    no = apply(office_app, SOLE_TRADER, kind="person", id_number=PERSON_ID, name="王小明",
               phone="13912345678")["case_no"]
    page = notice(office_app, no, "receipt", "html").get_data(as_text=True)
    assert PERSON_ID not in page and PERSON_ID[-4:] in page
    whole = Api(office_app, "window1").get(f"/api/cases/{no}/notices/receipt.html?full=1")
    assert PERSON_ID in whole.get_data(as_text=True)
    other = Api(office_app, "housing1").get(f"/api/cases/{no}/notices/receipt.html?full=1")
    assert PERSON_ID not in other.get_data(as_text=True)
    assert notice(office_app, no, "nonsense", "html").status_code == 404
    assert notice(office_app, no, "receipt", "doc").status_code == 404


def test_service_guide(office_app):
    client = office_app.test_client()
    items = client.get("/api/services").get_json()
    assert {i["department"] for i in items} >= {"market_dept", "health_dept", "housing_dept"}
    guide = client.get(f"/api/services/{FOOD}").get_json()
    assert guide["promised_working_days"] == 5 and guide["statutory_working_days"] == 10
    assert guide["materials"][0]["code"] == "application_form" and "fees" in guide and "visits" in guide
    assert "process" not in guide and "category" not in guide
    assert client.get("/api/services/nope").status_code == 404


def test_public_query_is_rate_limited(office_app):
    from intake.ratelimit import RateLimiter

    office_app.extensions["intake.rate_limiter"] = RateLimiter(limit=3, seconds=60)
    no = apply(office_app, FOOD)["case_no"]
    client = office_app.test_client()
    codes = [client.get(f"/api/public/cases/{no}?id_tail=000{i}").status_code for i in range(3)]
    assert codes == [404, 404, 404]
    r = client.get(f"/api/public/cases/{no}?id_tail={ORG_ID[-4:]}")
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    other = client.get(f"/api/public/cases/{no}?id_tail={ORG_ID[-4:]}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_multipart_application_and_resubmission(office_app):
    import io

    from tests.e2e.intake_helpers import PDF

    api = Api(office_app, "window1")
    form = {"service_code": FOOD, "channel": "online", "applicant.kind": "organization",
            "applicant.id_number": ORG_ID, "applicant.name": "示范餐饮管理有限公司", "applicant.phone": "13800138000",
            "material": ["application_form", "id_card"], "file.premises": (io.BytesIO(PDF + b"lease"), "lease.pdf")}
    r = api.client.post("/api/applications", data=form, headers=api.headers, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    no = r.get_json()["case_no"]
    assert r.get_json()["given_materials"] == ["application_form", "id_card", "premises"]
    view = application(office_app, no)
    sources = {m["code"]: m["source"] for m in view["materials"]}
    assert sources == {"application_form": "paper", "id_card": "paper", "premises": "given"}
    assert view["channel"] == "online"
    missing = ["business_licence", "layout", "safety_rules", "safety_manager"]
    decide(office_app, no, {"decision": "correction", "missing": missing})
    r = api.client.post(f"/api/cases/{no}/materials", headers=api.headers, content_type="multipart/form-data",
                        data={f"file.{code}": (io.BytesIO(PDF + code.encode()), f"{code}.pdf") for code in missing})
    assert r.status_code == 200, r.get_json()
    assert application(office_app, no)["status"] == "received"
