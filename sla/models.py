"""The SLA tables: clocks and their append-only ledger, alerts, deliveries, special procedures, digests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime

JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")
CASE_STEP = ""  # the ``step`` of a case clock; a step clock's step is its task id


class Clock(Base):
    """A case clock (step == '') or a step clock (step == task id).

    The ledger is the truth; the columns are its reading at the last change, kept so lists and the
    sweep never replay ledgers: ``check_on`` is the next day the level or escalation can change (the
    sweep's only query), ``warn_date`` the first yellow day, ``due_date`` the promised due date.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (UniqueConstraint("case_id", "step", name="uq_sla_clocks_case_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(36), default=CASE_STEP)
    element_id: Mapped[str | None] = mapped_column(String(128))
    group: Mapped[str | None] = mapped_column(String(64))
    service_code: Mapped[str | None] = mapped_column(String(64))
    budget: Mapped[int] = mapped_column(Integer)
    statutory_budget: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[int | None] = mapped_column(Integer)  # None: the office / service default
    state: Mapped[str] = mapped_column(String(16), default="not_started", index=True)
    paused_by: Mapped[list[str]] = mapped_column(JSONType, default=list)
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    statutory_due_date: Mapped[date | None] = mapped_column(Date)
    warn_date: Mapped[date | None] = mapped_column(Date, index=True)
    check_on: Mapped[date | None] = mapped_column(Date, index=True)
    provisional: Mapped[bool] = mapped_column(default=False)
    level: Mapped[str] = mapped_column(String(8), default="green")
    # working days counted so far (pauses excluded); once stopped, what the case or step took
    used_working_days: Mapped[int | None] = mapped_column(Integer)
    calendar_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClockEntry(Base):
    """One line of a clock's ledger; never updated or deleted."""

    __tablename__ = "sla_clock_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # started | paused | resumed | extended | stopped
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    working_days: Mapped[int | None] = mapped_column(Integer)
    approver: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpecialProcedure(Base):
    """A special procedure (听证, 检验, 检测, 鉴定, 专家评审 ...): the case clock is paused while it runs."""

    __tablename__ = "sla_special_procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    expected_working_days: Mapped[int | None] = mapped_column(Integer)
    started_on: Mapped[date] = mapped_column(Date)
    started_by: Mapped[str] = mapped_column(String(64))
    ended_on: Mapped[date | None] = mapped_column(Date)
    ended_by: Mapped[str | None] = mapped_column(String(64))


class Alert(Base):
    """A warning raised once per (case, step, level, rule), whatever the number of sweepers."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        UniqueConstraint("case_id", "step", "level", "rule_id", name="uq_sla_alerts_once"),
        Index("ix_sla_alerts_state_raised", "state", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    case_no: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(128))
    group: Mapped[str | None] = mapped_column(String(64))
    service_code: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(64))
    due_date: Mapped[date | None] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text)  # personal data masked
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | acked
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertDelivery(Base):
    """One alert to one recipient on one channel; webhook rows end ``sent`` or ``dead``.

    A person hears of a step's level once, whichever rules call for them (the director who supervises
    a department is not told twice of one red step, as its supervisor and then as the director): the
    delivery names the person (``addressee``) and its (case, step, level), unique per channel. A
    webhook delivery names nobody: the receiving system is told of every rule that fires.
    """

    __tablename__ = "sla_alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", "recipient", name="uq_sla_alert_deliveries_once"),
        UniqueConstraint("case_id", "step", "level", "channel", "addressee", name="uq_sla_alert_deliveries_addressee"),
        Index("ix_sla_alert_deliveries_inbox", "recipient", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("sla_alerts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # inbox | email | webhook
    recipient: Mapped[str] = mapped_column(String(256))
    addressee: Mapped[str | None] = mapped_column(String(64))  # the username told (None: a webhook)
    case_id: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[str | None] = mapped_column(String(36))
    level: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Digest(Base):
    """The daily digest sent to one supervisor (once per day)."""

    __tablename__ = "sla_digests"
    __table_args__ = (UniqueConstraint("username", "day", name="uq_sla_digests_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    body: Mapped[str] = mapped_column(Text)
    alerts: Mapped[int] = mapped_column(Integer)
    emailed: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaState(Base):
    """Small shared facts, e.g. the calendar version the open deadlines were last computed with."""

    __tablename__ = "sla_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
