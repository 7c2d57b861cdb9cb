"""The demo office's intake: the catalog, and a few applications at different stages.

Two of them went through the back office the way officials sign it: one waits at 批准 with the 承办
and 审核 opinions before it, one was refused with its reasons and handed out at the window.
"""

from __future__ import annotations

import base64

from sqlalchemy import func, select

from engine import cases
from engine.db import UnitOfWork
from engine.identity import Actor
from engine.models import Task
from intake import acceptance, applications
from intake.cli import load_configured
from intake.models import Application
from intake.requests import parse_application

# A tiny valid PDF: demo materials are real files, so reuse shows on the second application.
DEMO_PDF = base64.b64encode(b"%PDF-1.4\n% onewindow demo material\n%%EOF\n").decode()
WINDOW = Actor("window1", frozenset({"front_desk"}), display_name="综合窗口 张敏")
HANDLER = Actor("market1", frozenset({"market_dept"}), display_name="市场监管局 王强")
REVIEWER = Actor("market2", frozenset({"market_dept"}), display_name="市场监管局 赵磊")
APPROVER = Actor("market_lead", supervises=frozenset({"market_dept"}), display_name="市场监管局 科长")
FOOD_MATERIALS = ["application_form", "business_licence", "id_card", "premises", "layout", "safety_rules",
                  "safety_manager"]

TO_APPROVE = [  # 承办 and 审核 signed: 批准 waits for the section chief
    ("handle", HANDLER, {"outcome": "submit", "opinion": (
        "经审查，申请人提交的材料齐全，符合法定形式。经现场核查，经营场所面积、功能布局和设备设施与申报材料一致，"
        "食品安全管理制度健全，配备专职食品安全管理人员，符合《食品经营许可和备案管理办法》第十二条规定的条件。"
        "建议准予许可。")}),
    ("review", REVIEWER, {"outcome": "pass", "opinion": (
        "经审核，承办意见认定事实清楚，现场核查记录完整，适用依据正确，程序合法。同意承办意见，建议准予许可，报请批准。")}),
]
REFUSED = [  # decided 不予许可 with its reasons, then handed out with the 决定书 and the 送达回证
    ("handle", HANDLER, {"outcome": "submit", "opinion": (
        "经现场核查，经营场所未设置独立的粗加工及清洗区域，油烟排放口距居民住宅窗户不足规定距离，不符合《食品经营"
        "许可和备案管理办法》第十二条第（一）项、第（二）项规定的条件。已告知申请人整改要求。建议不予许可。")}),
    ("review", REVIEWER, {"outcome": "pass", "opinion": (
        "经审核，承办人员现场核查记录完整，认定事实清楚。同意承办意见，建议不予许可。")}),
    ("approve", APPROVER, {"outcome": "refused", "opinion": (
        "申请人经营场所的布局和设施不符合《食品经营许可和备案管理办法》第十二条规定的条件：未设置独立的粗加工及"
        "清洗区域，油烟排放不符合要求。申请人整改后可重新提出申请。")}),
    ("issue_result", WINDOW, {"delivery": "pickup"}),
]

DEMO_APPLICATIONS = [
    # service, applicant, materials given as files, decision, back-office steps
    ("110105-XK-0001", {"kind": "organization", "id_number": "91350100M000100Y43", "name": "示范餐饮管理有限公司",
                        "phone": "13800138000"}, FOOD_MATERIALS, {"decision": "accept"}, TO_APPROVE),
    ("110105-XK-0002", {"kind": "organization", "id_number": "91350100M000100Y43", "name": "示范餐饮管理有限公司",
                        "phone": "13800138000"},
     ["change_form"], {"decision": "correction", "missing": ["food_licence", "change_evidence"],
                       "reason": "缺少食品经营许可证正本、副本及与变更事项有关的证明材料"}, []),
    ("110105-DJ-0001", {"kind": "person", "id_number": "110101199003071233", "name": "王小明",
                        "phone": "13912345678"},
     ["registration_form", "id_card", "premises"], None, []),
    ("110105-XK-0001", {"kind": "person", "id_number": "11010519491231002X", "name": "李秀英",
                        "phone": "13700137000"}, FOOD_MATERIALS, {"decision": "accept"}, REFUSED),
]


def _work(uow: UnitOfWork, case_no: str, steps: list[tuple[str, Actor, dict]]) -> None:
    for element_id, actor, data in steps:
        task = uow.session.scalar(select(Task).where(Task.case_no == case_no, Task.element_id == element_id,
                                                     Task.state == "open"))
        cases.complete(uow, task.id, data, actor)


def seed(app) -> None:
    load_configured(app)
    db = app.extensions["onewindow.db"]
    settings = app.config["ONEWINDOW"]
    with db.read() as s:
        if s.scalar(select(func.count()).select_from(Application)):
            return
    for code, applicant, given, decision, steps in DEMO_APPLICATIONS:
        body = {"service_code": code, "applicant": applicant, "channel": "window",
                "materials": [{"code": c, "file": {"name": f"{c}.pdf", "content_base64": DEMO_PDF}} for c in given]}
        with db.unit_of_work() as uow:
            received = applications.receive(uow, parse_application(body, settings.max_upload_bytes), WINDOW,
                                            settings.upload_dir)
            if decision is not None:
                acceptance.decide(uow, received.case_no, decision, WINDOW)
        if steps:
            with db.unit_of_work() as uow:
                _work(uow, received.case_no, steps)
