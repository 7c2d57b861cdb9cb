"""Administrators' pages (``/admin/``): the accounts and groups; the index links the other
administration pages the installed packages bring (catalog, calendar) and the audit log.

Thin routes over :mod:`engine.accounts`; a refused change shows the form again with each problem
next to what was typed (422, or 409 for a conflict) and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from engine import accounts, passwords, policy
from engine.access import ADMIN, guard
from engine.errors import Conflict, Invalid, OneWindowError
from engine.web import client_address, current_actor, reading, unit_of_work

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")
FIELD_NAMES = {"username": "用户名", "password": "密码", "display_name": "姓名", "email": "电子邮箱",
               "groups": "所属部门", "supervises": "监督的部门", "roles": "角色"}
ROLE_NAMES = {"integration": "接口调用", "office_supervisor": "中心主任（电子监察）", "designer": "流程设计"}


@bp.context_processor
def _names() -> dict:
    return {"field_names": FIELD_NAMES, "role_names": ROLE_NAMES}


def _profile() -> accounts.Profile:
    form = request.form
    groups = form.getlist("groups") + (form.get("groups_new") or "").split(",")
    supervises = form.getlist("supervises") + (form.get("supervises_new") or "").split(",")
    return accounts.parse_profile(form.get("display_name"), form.get("email"), groups, supervises,
                                  form.getlist("roles"), form.get("admin") == "on")


def _known_groups(session) -> list[str]:
    return [g.key for g in accounts.groups(session)]


@bp.get("/")
@guard(ADMIN)
def index():
    return render_template("admin/index.html")


def _users_page(status: int = 200, error: OneWindowError | None = None, entered: dict | None = None):
    with reading() as s:
        users = accounts.accounts(s)
        known = _known_groups(s)
        return render_template("admin/users.html", users=users, known=known, roles=policy.ROLES, error=error,
                               entered=entered or {}, rule=passwords.RULE), status


@bp.get("/users")
@guard(ADMIN)
def users():
    return _users_page()


@bp.post("/users")
@guard(ADMIN)
def add_user():
    username = (request.form.get("username") or "").strip()
    try:
        profile = _profile()
        with unit_of_work() as uow:
            accounts.create(uow.session, current_actor(), username, request.form.get("password", ""), profile,
                            client_address())
    except (Invalid, Conflict) as exc:
        return _users_page(exc.status, exc, dict(request.form))
    return redirect(url_for("admin.user", username=username, done="created"))


def _user_page(username: str, status: int = 200, error: OneWindowError | None = None, done: str | None = None):
    with reading() as s:
        user = accounts.account(s, username)
        known = sorted(set(_known_groups(s)) | set(user.groups) | set(user.supervises))
        return render_template("admin/user.html", user=user, known=known, roles=policy.ROLES, error=error,
                               done=done or request.args.get("done"), rule=passwords.RULE,
                               me=current_actor().username), status


@bp.get("/users/<username>")
@guard(ADMIN)
def user(username: str):
    return _user_page(username)


def _act(username: str, change, done: str):
    try:
        with unit_of_work() as uow:
            change(uow.session)
    except (Invalid, Conflict) as exc:
        return _user_page(username, exc.status, exc)
    return redirect(url_for("admin.user", username=username, done=done))


@bp.post("/users/<username>")
@guard(ADMIN)
def change_user(username: str):
    def change(session):
        accounts.change(session, current_actor(), username, _profile(), client_address())

    return _act(username, change, "changed")


@bp.post("/users/<username>/active")
@guard(ADMIN)
def set_active(username: str):
    active = request.form.get("active") == "1"

    def change(session):
        accounts.set_active(session, current_actor(), username, active, client_address())

    return _act(username, change, "enabled" if active else "disabled")


@bp.post("/users/<username>/password")
@guard(ADMIN)
def reset_password(username: str):
    def change(session):
        accounts.reset_password(session, current_actor(), username, request.form.get("password", ""),
                                client_address())

    return _act(username, change, "password")


@bp.get("/groups")
@guard(ADMIN)
def groups():
    with reading() as s:
        return render_template("admin/groups.html", groups=accounts.groups(s))
