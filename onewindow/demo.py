"""The demo office: users of each role, the reference process, the catalog, a few cases in flight.

Only `onewindow demo` seeds it, and only into a database that has no users yet: the demo password is
published, so it must never reach a database where real people sign in (`serve` seeds nothing).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from engine import cases, definitions, identity
from engine.identity import Actor
from engine.models import Case, User
from engine.passwords import DEMO_PASSWORD as PASSWORD

USERS = [
    # username, display name, groups, supervises, admin, roles, role shown at start-up
    ("admin", "系统管理员", "", "", True, "", "administrator: deploys definitions"),
    ("window1", "综合窗口 张敏", "front_desk", "", False, "", "front desk (综合窗口)"),
    ("window2", "综合窗口 李娜", "front_desk", "", False, "", "front desk (综合窗口)"),
    ("market1", "市场监管局 王强", "market_dept", "", False, "", "caseworker, market_dept (承办)"),
    ("market2", "市场监管局 赵磊", "market_dept", "", False, "", "caseworker, market_dept (审核)"),
    ("market3", "市场监管局 孙悦", "market_dept", "", False, "", "caseworker, market_dept (批准)"),
    ("health1", "卫健委 陈静", "health_dept", "", False, "", "caseworker, health_dept (承办)"),
    ("health2", "卫健委 吴昊", "health_dept", "", False, "", "caseworker, health_dept (审核)"),
    ("health3", "卫健委 郑洁", "health_dept", "", False, "", "caseworker, health_dept (批准)"),
    ("housing1", "住建局 刘洋", "housing_dept", "", False, "", "caseworker, housing_dept (承办)"),
    ("housing2", "住建局 冯涛", "housing_dept", "", False, "", "caseworker, housing_dept (审核)"),
    ("housing3", "住建局 何平", "housing_dept", "", False, "", "caseworker, housing_dept (批准)"),
    ("general1", "综合科 周婷", "general_dept", "", False, "", "caseworker, general_dept (承办)"),
    ("general2", "综合科 许诺", "general_dept", "", False, "", "caseworker, general_dept (审核)"),
    ("general3", "综合科 韩雪", "general_dept", "", False, "", "caseworker, general_dept (批准)"),
    ("market_lead", "市场监管局 科长", "", "market_dept", False, "", "supervisor of market_dept"),
    ("health_lead", "卫健委 科长", "", "health_dept", False, "", "supervisor of health_dept"),
    ("director", "中心主任", "", "front_desk,market_dept,health_dept,housing_dept,general_dept", False,
     "office_supervisor", "office director (电子监察, reads every case)"),
    ("portal", "省政务服务网 接口", "", "", False, "integration", "integration API (starts cases)"),
    ("designer", "流程设计 周敏", "", "", False, "designer", "process designer (definitions, deploy, diagrams)"),
]


def process_bundles(processes_dir: Path) -> list[dict[str, bytes]]:
    decisions = sorted((processes_dir.parent / "decisions").glob("*.dmn"))
    bpmns = sorted(processes_dir.glob("*.bpmn"))
    shared = {p.name: p.read_bytes() for p in decisions}
    others = {p.name: p.read_bytes() for p in bpmns}
    return [{p.name: others[p.name], **{n: c for n, c in others.items() if n != p.name}, **shared}
            for p in bpmns]


class NotAnEmptyDatabase(Exception):
    """The database already has users: the demo office is never seeded beside real accounts."""


def seed(app: Flask) -> list[tuple[str, str, str]]:
    """Seed the demo office; returns (username, password, role) of each demo login.

    Raises NotAnEmptyDatabase, changing nothing, when the database has any user.
    """
    settings = app.config["ONEWINDOW"]
    db = app.extensions["onewindow.db"]
    with db.unit_of_work() as uow:
        users = uow.session.scalar(select(func.count()).select_from(User))
        if users:
            raise NotAnEmptyDatabase(
                f"the database {make_url(db.url).render_as_string(hide_password=True)} already has {users} "
                "user(s): the demo office (whose password is published) is only seeded into an empty "
                "database. Serve this one with `onewindow serve`, or point ONEWINDOW_DATABASE_URL / "
                "ONEWINDOW_INSTANCE_DIR at a new one for the demo.")
        for username, display, groups, supervises, admin, roles, _role in USERS:
            identity.add_user(uow.session, username, PASSWORD, groups=groups.split(","),
                              supervises=supervises.split(","), admin=admin, display_name=display, demo=True,
                              roles=roles.split(","))
        processes = Path(settings.processes_dir)
        for bundle in process_bundles(processes):
            definitions.deploy(uow.session, bundle, actor="demo", forms_from=[processes.parent])
    for hook in app.extensions.get("onewindow.demo_hooks", []):
        hook(app)
    with db.unit_of_work() as uow:
        if not uow.session.scalar(select(func.count()).select_from(Case)):
            window = Actor("window1", frozenset({"front_desk"}))
            for category, subject in (("food", "示范餐饮店"), ("medical", "康宁诊所"), ("catering", "味道小馆")):
                cases.start_case(uow, "one_window", {"category": category, "applicant_name": subject},
                                 window, subject=subject)
    return [(u, PASSWORD, role) for u, _d, _g, _s, _a, _r, role in USERS]
