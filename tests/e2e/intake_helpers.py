"""Helpers for the intake tests: an office with the reference process, the follow-up process and
the demo catalog; applications and decisions through the HTTP API; notice text from PDF."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.conftest import ROOT, Api, deploy_reference, member_for

PERSON_ID = "110101199003071233"
PERSON_ID_2 = "11010519491231002X"
ORG_ID = "91350100M000100Y43"
BAD_ORG_ID = "91350100M000100Y4Z"
FOOD = "110105-XK-0001"  # market_dept, promised 5 / statutory 10, reusable: business_licence, id_card
FOOD_CHANGE = "110105-XK-0002"
SOLE_TRADER = "110105-DJ-0001"
# 2026-03-02 is a Monday and a working day; 10:00 in Beijing.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

PDF = b"%PDF-1.4\n% test material\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
GROUP_USER = {"front_desk": "window1", "market_dept": "market1", "health_dept": "health1",
              "housing_dept": "housing1", "general_dept": "general1"}  # the group's first member


def travel(when: datetime) -> None:
    """Move the one clock (process wide); bearer tokens issued before may have expired, so forget them."""
    from engine import clock
    from tests import conftest

    clock.set_default(when)
    conftest._tokens.clear()


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def file(name: str, content: bytes = PDF) -> dict:
    return {"name": name, "content_base64": b64(content)}


def setup_office(app) -> None:
    from engine import definitions
    from intake import catalog_store

    deploy_reference(app)
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        definitions.deploy(uow.session, {"bad_review_followup.bpmn":
                                         (ROOT / "bpmn/processes/bad_review_followup.bpmn").read_bytes()},
                           actor="test", forms_from=[ROOT / "bpmn"])
        catalog_store.store(uow.session, catalog_store.read_paths([ROOT / "bpmn/catalog"]), actor="test")


def apply(app, service: str = FOOD, *, kind: str = "organization", id_number: str = ORG_ID,
          name: str = "示范餐饮管理有限公司", phone: str = "13800138000", materials=None, expect: int = 201,
          **extra) -> dict:
    body = {"service_code": service, "channel": "window",
            "applicant": {"kind": kind, "id_number": id_number, "name": name, "phone": phone, **extra},
            "materials": materials if materials is not None else []}
    r = Api(app, "window1").post("/api/applications", json=body)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def all_food_materials() -> list[dict]:
    codes = ["application_form", "business_licence", "id_card", "premises", "layout", "safety_rules",
             "safety_manager"]
    return [{"code": c, "file": file(f"{c}.pdf", PDF + c.encode())} for c in codes]


def application(app, case_no: str, user: str = "window1") -> dict:
    r = Api(app, user).get(f"/api/applications/{case_no}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def decide(app, case_no: str, data: dict, expect: int = 200) -> dict:
    r = Api(app, "window1").post(f"/api/cases/{case_no}/acceptance", json=data)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def complete_open(app, case_no: str, element_id: str, data: dict) -> None:
    """Complete a back-office task through the worklists API, as a member of its group (承办, 审核 and 批准
    by three different members: separation of duties)."""
    view = Api(app, "admin").get(f"/api/cases/{case_no}").get_json()
    tasks = [t for t in view["open_tasks"] if t["element_id"] == element_id]
    assert len(tasks) == 1, (element_id, view["open_tasks"])
    r = Api(app, member_for(tasks[0]["group"], element_id)).post(f"/api/tasks/{tasks[0]['id']}/complete",
                                                     json={"data": data})
    assert r.status_code == 200, r.get_json()


def approve_in_back_office(app, case_no: str, result: str = "approved") -> None:
    complete_open(app, case_no, "handle", {"outcome": "submit", "opinion": "符合条件"})
    complete_open(app, case_no, "review", {"outcome": "pass", "opinion": "同意"})
    complete_open(app, case_no, "approve", {"outcome": result, "opinion": "同意" if result == "approved" else
                                            "经营场所不符合食品安全要求"})


def notice(app, case_no: str, kind: str, fmt: str, user: str = "window1"):
    r = Api(app, user).get(f"/api/cases/{case_no}/notices/{kind}.{fmt}")
    return r


def pdf_text(data: bytes) -> str:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "").replace(" ", "")


def cn(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def row_counts(app) -> dict[str, int]:
    from engine.models import Case, CaseEvent, Task
    from intake.models import Applicant, Application, ApplicationMaterial, StoredFile

    with app.extensions["onewindow.db"].read() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Case, CaseEvent, Task, Applicant, Application, ApplicationMaterial, StoredFile)}
