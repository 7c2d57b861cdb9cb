"""Accounts as an administrator keeps them: add one, change its groups, supervision and roles,
disable or enable it, reset its password. Each change is a security event in the audit log (等保:
account management is audited), written in the same unit of work as the change.

Two guards against locking the office out: an administrator may neither disable nor un-admin
themselves, and the last active administrator stays one. Disabling an account or resetting its
password signs it out everywhere (its tokens are revoked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import audit, identity, passwords
from engine.errors import Conflict, Invalid, NotFound, Problem
from engine.identity import Actor
from engine.models import ApiToken, Membership, Supervision, User, UserRole

ACCOUNT_CREATED = "account_created"
ACCOUNT_CHANGED = "account_changed"
ACCOUNT_DISABLED = "account_disabled"
ACCOUNT_ENABLED = "account_enabled"
PASSWORD_RESET = "password_reset"
NAME_MAX, EMAIL_MAX = 128, 256


@dataclass(frozen=True)
class Profile:
    """What an administrator sets on an account (besides its password and whether it is active)."""

    display_name: str
    email: str | None
    groups: tuple[str, ...]
    supervises: tuple[str, ...]
    roles: tuple[str, ...]
    admin: bool


def _names(values: Iterable[str]) -> list[str]:
    return [v.strip() for v in values if v and v.strip()]


def parse_profile(display_name: str | None, email: str | None, groups: Iterable[str], supervises: Iterable[str],
                  roles: Iterable[str], admin: bool) -> Profile:
    """Check a profile as a form sent it; raises Invalid naming each field that is wrong."""
    problems: list[Problem] = []
    name = (display_name or "").strip()
    if not name:
        problems.append(Problem("required", field="display_name"))
    elif len(name) > NAME_MAX:
        problems.append(Problem(f"at most {NAME_MAX} characters", field="display_name"))
    mail = (email or "").strip() or None
    if mail is not None and (len(mail) > EMAIL_MAX or "@" not in mail or " " in mail):
        problems.append(Problem("an email address such as name@example.gov.cn", field="email"))
    checked: dict[str, list[str]] = {}
    for field, values in (("groups", groups), ("supervises", supervises)):
        try:
            checked[field] = identity.check_group_names(_names(values), field)
        except Invalid as exc:
            problems += exc.problems
    try:
        checked["roles"] = identity.check_roles(_names(roles))
    except Invalid as exc:
        problems += exc.problems
    if problems:
        raise Invalid("invalid account", problems)
    return Profile(name, mail, tuple(sorted(set(checked["groups"]))), tuple(sorted(set(checked["supervises"]))),
                   tuple(checked["roles"]), bool(admin))


def _described(username: str, p: Profile) -> str:
    dash = "-"
    return (f"account {username}: groups {','.join(p.groups) or dash}; supervises {','.join(p.supervises) or dash}; "
            f"roles {','.join(p.roles) or dash}; administrator {'yes' if p.admin else 'no'}")


def _record(session: Session, actor: Actor, event: str, detail: str, client: str | None) -> None:
    audit.security_event(session, event, username=actor.username, display_name=actor.display_name,
                         client=client, detail=detail)


def create(session: Session, actor: Actor, username: str, password: str, profile: Profile,
           client: str | None) -> User:
    """Add an account. Raises Invalid (username, password), Conflict (the name is taken)."""
    username = (username or "").strip()
    if username and session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"an account named {username} exists already")
    user = identity.add_user(session, username, password, groups=list(profile.groups),
                             supervises=list(profile.supervises), admin=profile.admin,
                             display_name=profile.display_name, email=profile.email, roles=list(profile.roles))
    _record(session, actor, ACCOUNT_CREATED, _described(username, profile), client)
    return user


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True),
                                                                       User.active.is_(True))) or 0


def _keep_an_administrator(session: Session, actor: Actor, user: User, *, still_admin: bool, active: bool) -> None:
    if user.username == actor.username and (not still_admin or not active):
        raise Conflict("an administrator cannot disable their own account or take away their own administrator "
                       "role; ask another administrator")
    if user.is_admin and user.active and (not still_admin or not active) and _active_admins(session) <= 1:
        raise Conflict(f"{user.username} is the last active administrator")


def change(session: Session, actor: Actor, username: str, profile: Profile, client: str | None) -> User:
    """Set an account's name, email, groups, supervision, roles and administrator flag."""
    user = identity.get_user(session, username)
    _keep_an_administrator(session, actor, user, still_admin=profile.admin, active=user.active)
    user.display_name, user.email, user.is_admin = profile.display_name, profile.email, profile.admin
    user.memberships = [Membership(group=g) for g in profile.groups]
    user.supervisions = [Supervision(group=g) for g in profile.supervises]
    user.role_rows = [UserRole(role=r) for r in profile.roles]
    session.flush()
    identity.forget_user(session, username)
    _record(session, actor, ACCOUNT_CHANGED, _described(username, profile), client)
    return user


def _sign_out_everywhere(session: Session, user: User) -> None:
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    identity.forget_user(session, user.username)


def set_active(session: Session, actor: Actor, username: str, active: bool, client: str | None) -> User:
    """Disable (signed out at once, refused at sign-in) or enable an account."""
    user = identity.get_user(session, username)
    if user.active == active:
        return user
    _keep_an_administrator(session, actor, user, still_admin=user.is_admin, active=active)
    user.active = active
    if not active:
        _sign_out_everywhere(session, user)
    session.flush()
    _record(session, actor, ACCOUNT_ENABLED if active else ACCOUNT_DISABLED, f"account {username}", client)
    return user


def reset_password(session: Session, actor: Actor, username: str, password: str, client: str | None) -> User:
    """Give an account a new password (the password rules of engine.passwords); its sessions end."""
    user = identity.get_user(session, username)
    found = passwords.problems(password, username)
    if found:
        raise Invalid("the new password is not allowed", [Problem(p, field="password") for p in found])
    identity.set_password(session, user, password)
    _sign_out_everywhere(session, user)
    _record(session, actor, PASSWORD_RESET, f"account {username}", client)
    return user


def accounts(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def account(session: Session, username: str) -> User:
    """Raises NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no account {username}")
    return user


@dataclass(frozen=True)
class GroupView:
    key: str
    members: tuple[User, ...]
    supervisors: tuple[User, ...]


def groups(session: Session) -> list[GroupView]:
    """Every group someone belongs to or supervises, with its members and supervisors."""
    users = accounts(session)
    keys = sorted({g for u in users for g in (*u.groups, *u.supervises)})
    return [GroupView(k, tuple(u for u in users if k in u.groups), tuple(u for u in users if k in u.supervises))
            for k in keys]
