"""Users, groups, supervisors and bearer tokens; the acting user as a plain value."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine import clock, passwords
from engine.errors import Invalid, NotFound, Problem, Unauthorized
from engine.models import ApiToken, Membership, Supervision, User, UserRole
from engine.policy import ROLES, SYSTEM_ROLE

_hasher = PasswordHasher()
TOKEN_LIFETIME = timedelta(hours=12)
# How long this process trusts what it read about a token (see ActorCache and docs/operations.md).
TOKEN_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed into every service call (services never look it up themselves).

    What the actor may do is decided by ``engine.policy`` from these facts, never here.
    """

    username: str
    groups: frozenset[str] = frozenset()
    supervises: frozenset[str] = frozenset()
    is_admin: bool = False
    display_name: str = ""
    roles: frozenset[str] = frozenset()  # engine.policy.ROLES, or SYSTEM_ROLE for the system itself


SYSTEM = Actor("system", roles=frozenset({SYSTEM_ROLE}))


def actor_of(user: User) -> Actor:
    return Actor(
        user.username, frozenset(user.groups), frozenset(user.supervises), user.is_admin,
        user.display_name or user.username, frozenset(user.roles),
    )


def _check_names(names: list[str], field: str) -> list[str]:
    out = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        if not n.replace("_", "").replace("-", "").isalnum():
            raise Invalid("bad group name", [Problem(f"'{n}' is not a valid group name", field=field)])
        out.append(n)
    return out


def _check_roles(roles: list[str]) -> list[str]:
    out = sorted({r.strip() for r in roles if r.strip()})
    unknown = [r for r in out if r not in ROLES]
    if unknown:
        raise Invalid("unknown role", [Problem(f"'{r}' is not a role (roles: {', '.join(ROLES)})", field="roles")
                                       for r in unknown])
    return out


def add_user(session: Session, username: str, password: str, *, groups: list[str] | None = None,
             supervises: list[str] | None = None, admin: bool = False, display_name: str = "",
             email: str | None = None, demo: bool = False, roles: list[str] | None = None) -> User:
    """Create or update a user (re-running with the same name replaces password, groups and roles).

    The password must pass :func:`engine.passwords.problems`; ``demo`` lets the demo office's
    seeding (and only it) give its published password. Raises Invalid naming each field.
    """
    problems = []
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        problems.append(Problem("letters, digits, '.', '_' or '-' only", field="username"))
    if not (demo and password == passwords.DEMO_PASSWORD):
        problems += [Problem(p, field="password") for p in passwords.problems(password, username)]
    if problems:
        raise Invalid("invalid user", problems)
    groups = _check_names(groups or [], "groups")
    supervises = _check_names(supervises or [], "supervises")
    roles = _check_roles(roles or [])
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash="", created_at=clock.now())
        session.add(user)
    user.password_hash = _hasher.hash(password)
    user.is_admin = admin
    user.display_name = display_name or user.display_name or username
    user.email = email or user.email
    user.memberships = [Membership(group=g) for g in sorted(set(groups))]
    user.supervisions = [Supervision(group=g) for g in sorted(set(supervises))]
    user.role_rows = [UserRole(role=r) for r in roles]
    session.flush()
    _forget_on_commit(session, lambda: actors.forget_user(username))
    return user


def check_group_names(names: list[str], field: str) -> list[str]:
    """Group keys as given (blank ones dropped); raises Invalid naming ``field`` for a bad one."""
    return _check_names(names, field)


def check_roles(roles: list[str]) -> list[str]:
    """Role names, sorted and unique; raises Invalid for one that is not in engine.policy.ROLES."""
    return _check_roles(roles)


def set_password(session: Session, user: User, password: str) -> None:
    """Store a new password's hash; the caller has checked it against engine.passwords."""
    user.password_hash = _hasher.hash(password)
    session.flush()


def forget_user(session: Session, username: str) -> None:
    """Make this process's cache of actors read ``username`` afresh (now and at commit)."""
    _forget_on_commit(session, lambda: actors.forget_user(username))


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        _hasher.hash(password or "x")  # same cost whether or not the user exists
        raise Unauthorized("wrong username or password")
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong username or password") from None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(ApiToken(token_hash=_digest(token), user_id=user.id, created_at=now,
                         expires_at=now + TOKEN_LIFETIME))
    return token


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= clock.now():
        raise Unauthorized("the token is unknown or expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("the user is disabled")
    return user


def _actor_statement():
    groups = (select(func.aggregate_strings(Membership.group, ","))
              .where(Membership.user_id == User.id).scalar_subquery())
    supervises = (select(func.aggregate_strings(Supervision.group, ","))
                  .where(Supervision.user_id == User.id).scalar_subquery())
    roles = (select(func.aggregate_strings(UserRole.role, ","))
             .where(UserRole.user_id == User.id).scalar_subquery())
    return (select(ApiToken.expires_at, User.username, User.display_name, User.is_admin, User.active, groups,
                   supervises, roles)
            .join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == bindparam("digest")))


_ACTOR_OF_TOKEN = _actor_statement()  # built once: a request pays for no statement building


def _read_actor(session: Session | Connection, digest: str) -> tuple[Actor, datetime]:
    row = session.execute(_ACTOR_OF_TOKEN, {"digest": digest}).first()
    if row is None or row[0] <= clock.now():
        raise Unauthorized("the token is unknown or expired")
    expires_at, username, display_name, is_admin, active, in_groups, supervised, held = row
    if not active:
        raise Unauthorized("the user is disabled")
    actor = Actor(username, _split(in_groups), _split(supervised), is_admin, display_name or username,
                  _split(held))
    return actor, expires_at


def _split(joined: str | None) -> frozenset[str]:
    return frozenset(filter(None, (joined or "").split(",")))


def actor_for_token(session: Session | Connection, token: str) -> Actor:
    """The acting user of a bearer token in one round trip, read from the database now (no cache).

    Raises Unauthorized exactly as :func:`user_for_token` does.
    """
    return _read_actor(session, _digest(token))[0]


@dataclass(frozen=True)
class _Entry:
    actor: Actor
    expires_at: datetime  # the token's own expiry, checked on every hit
    fresh_until: float  # monotonic seconds


class ActorCache:
    """Token digest -> Actor, trusted for ``ttl`` seconds, so most requests read no table to learn who asks.

    Staleness is bounded: an entry is used for at most ``ttl`` seconds after it was read. Revoking a
    token and changing a user through this module forget the entries at once in this process (and
    again after the commit, so a read racing the change cannot store what it saw before it); other
    processes see the change within ``ttl``. An expired token is refused on every hit. Failures are
    never cached.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._generation = 0  # bumped by every forget: a read that started before it is not stored
        self._lock = threading.Lock()

    def actor(self, database_key: str, token: str, read: Callable[[str], tuple[Actor, datetime]]) -> Actor:
        """The actor of ``token`` in the database ``database_key``; ``read(digest)`` on a miss.

        Raises Unauthorized for an unknown, expired or disabled token (as ``read`` does).
        """
        key = (database_key, _digest(token))
        entry = self._entries.get(key)
        now = self._monotonic()
        if entry is not None and now < entry.fresh_until:
            if entry.expires_at <= clock.now():
                self._entries.pop(key, None)
                raise Unauthorized("the token is unknown or expired")
            return entry.actor
        generation = self._generation
        actor, expires_at = read(key[1])
        if self.ttl > 0:
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self.max_entries:
                        self._prune(now)
                    self._entries[key] = _Entry(actor, expires_at, now + self.ttl)
        return actor

    def _prune(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.fresh_until <= now]:
            del self._entries[key]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()

    def forget_token(self, token: str) -> None:
        digest = _digest(token)
        with self._lock:
            self._generation += 1
            for key in [k for k in self._entries if k[1] == digest]:
                del self._entries[key]

    def forget_user(self, username: str) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k, e in self._entries.items() if e.actor.username == username]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


actors = ActorCache()


def cached_actor_for_token(database_key: str, token: str,
                           read: Callable[[], Session | Connection]) -> Actor:
    """:func:`actor_for_token` through :data:`actors`; ``read()`` opens what to read with on a miss."""
    def lookup(digest: str) -> tuple[Actor, datetime]:
        with read() as conn:
            return _read_actor(conn, digest)

    return actors.actor(database_key, token, lookup)


def _forget_on_commit(session: Session, forget: Callable[[], None]) -> None:
    """Forget now, and once more when the transaction commits (a read in between saw the old rows)."""
    forget()
    event.listen(session, "after_commit", lambda _s: forget(), once=True)


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    _forget_on_commit(session, lambda: actors.forget_token(token))


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user '{username}'")
    return user


def members_of(session: Session, group: str) -> list[str]:
    return list(session.scalars(
        select(User.username).join(Membership).where(Membership.group == group).order_by(User.username)
    ))


def supervisors_of(session: Session, group: str) -> list[User]:
    return list(session.scalars(
        select(User).join(Supervision).where(Supervision.group == group).order_by(User.username)
    ))
