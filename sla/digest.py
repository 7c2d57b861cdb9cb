"""The daily digest: each supervisor gets, once a day, the open alerts of the groups they supervise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from engine import office
from engine.broker import actor
from engine.db import Database
from engine.models import Supervision, User
from sla import runtime
from sla.models import Alert, Digest


def compose(session, username: str, groups: list[str]) -> tuple[str, int]:
    alerts = list(session.scalars(select(Alert).where(Alert.state == "open", Alert.group.in_(groups))
                                  .order_by(Alert.level.desc(), Alert.due_date, Alert.id)))
    lines = [f"电子监察日报 / daily digest for {username}: {len(alerts)} open alert(s)"]
    lines += [f"- [{a.level}] {a.message} (rule {a.rule_id} v{a.rule_version})" for a in alerts]
    return "\n".join(lines) + "\n", len(alerts)


def send_digests(db: Database, now: datetime, *, force: bool = False) -> int:
    """Write (and email) today's digest for every supervisor not yet served; returns how many.

    Before the configured hour nothing is sent unless ``force`` (the CLI).
    """
    local = now.astimezone(office.zone)
    if not force and local.hour < runtime.current.escalation.digest_hour:
        return 0
    day = local.date()
    made: list[int] = []
    with db.unit_of_work() as uow:
        s = uow.session
        groups: dict[str, list[str]] = {}
        for username, group in s.execute(select(User.username, Supervision.group).join(Supervision)
                                         .where(User.active.is_(True))):
            groups.setdefault(username, []).append(group)
        done = set(s.scalars(select(Digest.username).where(Digest.day == day)))
        for username, supervised in sorted(groups.items()):
            if username in done:
                continue
            body, count = compose(s, username, supervised)
            ins = (postgresql.insert if uow.is_postgres else sqlite.insert)(Digest)
            new_id = s.execute(ins.values(username=username, day=day, body=body, alerts=count, emailed=False,
                                          at=now).on_conflict_do_nothing().returning(Digest.id)).scalar()
            if new_id is not None:
                made.append(new_id)
        if made and runtime.current.smtp_url:
            ids = list(made)
            uow.after_commit(lambda: [email_digest.send(i) for i in ids])
    return len(made)


@actor(max_retries=3, min_backoff=1_000, max_backoff=60_000)
def email_digest(digest_id: int) -> None:
    from sla.channels import smtp_send

    with runtime.database().unit_of_work() as uow:
        digest = uow.session.get(Digest, digest_id)
        if digest is None or digest.emailed:
            return
        email = uow.session.scalar(select(User.email).where(User.username == digest.username))
        if email:
            smtp_send(email, f"[onewindow] 电子监察日报 {digest.day}", digest.body)
        digest.emailed = True
