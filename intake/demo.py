"""The demo office's intake: the catalog, and a few applications at different stages."""

from __future__ import annotations

import base64

from sqlalchemy import func, select

from engine.identity import Actor
from intake import acceptance, applications
from intake.cli import load_configured
from intake.models import Application
from intake.requests import parse_application

# A tiny valid PDF: demo materials are real files, so reuse shows on the second application.
DEMO_PDF = base64.b64encode(b"%PDF-1.4\n% onewindow demo material\n%%EOF\n").decode()
WINDOW = Actor("window1", frozenset({"front_desk"}), display_name="综合窗口 张敏")

DEMO_APPLICATIONS = [
    # service, applicant, materials given as files, decision
    ("110105-XK-0001", {"kind": "organization", "id_number": "91350100M000100Y43", "name": "示范餐饮管理有限公司",
                        "phone": "13800138000"},
     ["application_form", "business_licence", "id_card", "premises", "layout", "safety_rules", "safety_manager"],
     {"decision": "accept"}),
    ("110105-XK-0002", {"kind": "organization", "id_number": "91350100M000100Y43", "name": "示范餐饮管理有限公司",
                        "phone": "13800138000"},
     ["change_form"], {"decision": "correction", "missing": ["change_evidence"], "reason": "缺少变更证明材料"}),
    ("110105-DJ-0001", {"kind": "person", "id_number": "110101199003071233", "name": "王小明",
                        "phone": "13912345678"},
     ["registration_form", "id_card", "premises"], None),
]


def seed(app) -> None:
    load_configured(app)
    db = app.extensions["onewindow.db"]
    settings = app.config["ONEWINDOW"]
    with db.read() as s:
        if s.scalar(select(func.count()).select_from(Application)):
            return
    for code, applicant, given, decision in DEMO_APPLICATIONS:
        body = {"service_code": code, "applicant": applicant, "channel": "window",
                "materials": [{"code": c, "file": {"name": f"{c}.pdf", "content_base64": DEMO_PDF}} for c in given]}
        with db.unit_of_work() as uow:
            received = applications.receive(uow, parse_application(body, settings.max_upload_bytes), WINDOW,
                                            settings.upload_dir)
            if decision is not None:
                acceptance.decide(uow, received.case_no, decision, WINDOW)
