"""Failed sign-in throttling, shared by every web process through the database.

Each attempt is counted under three keys, each a fixed window (``Limits``; docs/operations.md says why):

- **the account at this client** ("pair"): 10 failures in 15 minutes, then 429 until that window
  ends. A guesser meets this first. It refuses only that client, so someone guessing from elsewhere
  never locks the real user out at their own desk.
- **the client** (its address, an IPv6 /64 as one): 100 failures in 15 minutes over all accounts,
  then 429: one address trying many accounts. A whole office behind one NAT address shares it, so it
  is generous.
- **the account from anywhere**: past 30 failures in an hour, the account takes one attempt per 30
  seconds from clients that have not signed in to it in the last 30 days (Retry-After says when).
  This only slows a guesser spread over many addresses: it never locks the account, and the user's
  own clients are not slowed at all.

An attempt is counted *before* the password is checked, by one conditional UPDATE per key, so
parallel attempts (in any process) cannot slip past a limit; a success forgives it. A refused attempt
is not counted and costs no Argon2 hash. The instant is an argument (tests move it).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.db import UTCDateTime
from engine.errors import TooManyRequests
from engine.models import SignInCounter

MESSAGE = "登录尝试过于频繁，请{seconds}秒后再试 / too many sign-in attempts, try again in {seconds} s"


@dataclass(frozen=True)
class Limits:
    pair_failures: int = 10
    pair_window: timedelta = timedelta(minutes=15)
    client_failures: int = 100
    client_window: timedelta = timedelta(minutes=15)
    account_failures: int = 30
    account_window: timedelta = timedelta(hours=1)
    account_spacing: timedelta = timedelta(seconds=30)
    known_client_for: timedelta = timedelta(days=30)


def client_key(address: str | None) -> str:
    """The client an address stands for: itself, or its /64 for IPv6 (one subscriber's whole range)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:45]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(username: str, client: str) -> tuple[str, str, str]:
    account = username[:64]  # longer names cannot exist (users.username is 64): all one key
    return f"pair:{client}|{account}", f"client:{client}", f"account:{account}"


def _refuse(until: datetime, now: datetime) -> TooManyRequests:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return TooManyRequests(MESSAGE.format(seconds=seconds), retry_after=seconds)


def _ensure(session: Session, key: str, now: datetime) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SignInCounter).values(key=key, window_start=now, failures=0)
                    .on_conflict_do_nothing(index_elements=["key"]))


def _count(session: Session, key: str, now: datetime, window: timedelta, limit: int | None) -> None:
    """One more attempt under ``key``, a new window once the last has passed; refuses past ``limit``."""
    _ensure(session, key, now)
    c = SignInCounter
    expired = c.window_start <= now - window
    stmt = (update(c).where(c.key == key)
            .values(failures=case((expired, 1), else_=c.failures + 1),
                    window_start=case((expired, literal(now, UTCDateTime())), else_=c.window_start))
            .execution_options(synchronize_session=False))
    if limit is not None:
        stmt = stmt.where(or_(expired, c.failures < limit))
    if session.execute(stmt).rowcount == 0:
        start = session.scalar(select(c.window_start).where(c.key == key))
        raise _refuse(start + window, now)


def _slow_down(session: Session, account: str, pair: str, now: datetime, limits: Limits) -> None:
    c = SignInCounter
    failures = session.scalar(select(c.failures).where(c.key == account)) or 0
    if failures <= limits.account_failures:
        return
    known = session.scalar(select(c.last_success_at).where(c.key == pair))
    if known is not None and known > now - limits.known_client_for:
        return
    free = or_(c.last_attempt_at.is_(None), c.last_attempt_at <= now - limits.account_spacing)
    taken = session.execute(update(c).where(c.key == account, free).values(last_attempt_at=now)
                            .execution_options(synchronize_session=False)).rowcount
    if not taken:
        last = session.scalar(select(c.last_attempt_at).where(c.key == account))
        raise _refuse(last + limits.account_spacing, now)


def admit(session: Session, username: str, client: str, now: datetime, limits: Limits) -> None:
    """Count one sign-in attempt of ``username`` from ``client`` before its password is checked.

    Raises TooManyRequests (with ``retry_after``) when a limit refuses it; the caller's transaction
    must then roll back, so a refused attempt is not counted.
    """
    pair, client_only, account = _keys(username, client)
    _count(session, pair, now, limits.pair_window, limits.pair_failures)
    _count(session, client_only, now, limits.client_window, limits.client_failures)
    _count(session, account, now, limits.account_window, None)
    _slow_down(session, account, pair, now, limits)


def forgive(session: Session, username: str, client: str, now: datetime) -> None:
    """The attempt :func:`admit` counted succeeded: clear the pair (and mark the client as known to
    the account), and take the one attempt back from the client's and the account's counts."""
    pair, client_only, account = _keys(username, client)
    c = SignInCounter
    session.execute(update(c).where(c.key == pair).values(failures=0, last_success_at=now)
                    .execution_options(synchronize_session=False))
    for key in (client_only, account):  # in admit's order, so two sign-ins never wait on each other in a cycle
        session.execute(update(c).where(c.key == key, c.failures > 0)
                        .values(failures=c.failures - 1).execution_options(synchronize_session=False))


def prune(session: Session, now: datetime, limits: Limits) -> int:
    """Forget counters whose window has passed and that mark no recently known client."""
    c = SignInCounter
    oldest = now - max(limits.pair_window, limits.client_window, limits.account_window)
    stale = session.execute(delete(c).where(
        c.window_start < oldest,
        or_(c.last_success_at.is_(None), c.last_success_at < now - limits.known_client_for)))
    return stale.rowcount
