"""The engine's tables: identities, definitions, cases, open tasks, timers and the event log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime, utcnow_column_default

JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)

    memberships: Mapped[list[Membership]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    supervisions: Mapped[list[Supervision]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def groups(self) -> list[str]:
        return sorted(m.group for m in self.memberships)

    @property
    def supervises(self) -> list[str]:
        return sorted(s.group for s in self.supervisions)

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Supervision(Base):
    __tablename__ = "supervisions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class UserRole(Base):
    """A role beyond groups (engine.policy.ROLES: integration, office_supervisor)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessDefinition(Base):
    """One deployed version of a process: its source files and its parsed spec, stored once."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_definitions_pid_version"),
        UniqueConstraint("process_id", "content_hash", name="uq_process_definitions_pid_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    files: Mapped[dict[str, str]] = mapped_column(JSONType, deferred=True)  # the sources, for export
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # read only on a spec-cache miss
    serializer_version: Mapped[str] = mapped_column(String(16))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # message name -> who may deliver it (its deliverableBy property); a message not here: the system only
    message_senders: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    # the messages its start events catch: a thrown message with no waiting case starts one
    start_messages: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(64))


class Case(Base):
    """A running (or finished) process instance and its serialized SpiffWorkflow state."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | completed | cancelled
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(256))  # applicant name etc., for search
    service_code: Mapped[str | None] = mapped_column(String(64), index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    flagged: Mapped[str | None] = mapped_column(Text)  # why an administrator must look at it
    # Filled by the SLA package from the case clock (engine only stores them, so every package can
    # read them without importing sla): the promised and statutory due dates, and the level.
    accepted_on: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    statutory_due_date: Mapped[date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_level: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))
    # the group or role the case was started under (engine.policy.starting_as): its members may read it
    started_as: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    definition: Mapped[ProcessDefinition] = relationship()  # the hot path needs only definition_id

    __mapper_args__ = {"version_id_col": version}


class Task(Base):
    """A queryable row per user task, so lists never load workflow state."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_group_state_due", "group", "state", "due_at", "id"),
        Index("ix_tasks_assignee_state_due", "assignee", "state", "due_at", "id"),
        Index("ix_tasks_completed_by", "completed_by", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_no: Mapped[str] = mapped_column(String(32))
    process_id: Mapped[str] = mapped_column(String(128))
    service_code: Mapped[str | None] = mapped_column(String(64))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    group: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # open | claimed | completed | cancelled
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # further groups and candidate users ({"groups": [...], "users": [...]}), None when the group is all;
    # here for the state machine's decisions, in task_candidates for the queue's index
    candidates: Mapped[dict[str, list[str]] | None] = mapped_column(JSONType)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_level: Mapped[str | None] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class TaskCandidate(Base):
    """A further group, or a user, that may claim a task besides its group (``Task.group``).

    Most tasks have none: the worklists find a task by its group's index range, and by this table only
    for the tasks a modeler gave several candidate groups or candidate users.
    """

    __tablename__ = "task_candidates"
    __table_args__ = (Index("ix_task_candidates_kind_name", "kind", "name", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user | group
    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class MessageWait(Base):
    """A message a running case waits for, with the correlation key it expects (None: any case of
    this process waiting for the name takes a message thrown without a key)."""

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_name_key", "name", "correlation_key"),)

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the waiting SpiffWorkflow task
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    correlation_key: Mapped[str | None] = mapped_column(String(256))


class Timer(Base):
    """A waiting BPMN timer and the instant it is due; fired by `onewindow tick`."""

    __tablename__ = "timers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id of the event
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    element_id: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


UNDELIVERED = "domain AND delivered_at IS NULL"


class CaseEvent(Base):
    """The case history, append-only: every state change with who, what, when and why.

    Events whose kind is a domain event are also the outbox: handed to the broker after commit, and
    handed again (``attempts``, ``next_attempt_at``: the backoff) until every subscriber has recorded
    them, which ``delivered_at`` says (engine/events.py). The partial index holds only those not yet
    delivered, so the outbox's queries stay small however long the history grows.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_undispatched", "dispatched_at", "domain"),
        Index("ix_case_events_undelivered", "case_id", "id", postgresql_where=text(UNDELIVERED),
              sqlite_where=text(UNDELIVERED)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    element_id: Mapped[str | None] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    domain: Mapped[bool] = mapped_column(Boolean, default=False)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # server defaults: the hot path (engine/store.py) inserts history rows naming only what it sets
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventDelivery(Base):
    """Which subscriber has handled which domain event: makes redelivery a no-op."""

    __tablename__ = "event_deliveries"

    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id", ondelete="CASCADE"), primary_key=True)
    handler: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One row of the audit log (engine.audit): a view of personal data whole, or a security event.

    Append-only: the app has no way to change or delete a row, and the migration adds triggers that
    refuse UPDATE, and DELETE of rows younger than the retention period (docs/operations.md).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_username_id", "username", "id"),
        Index("ix_audit_log_case_no_id", "case_no", "id"),
        Index("ix_audit_log_subject_id", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    category: Mapped[str] = mapped_column(String(16))  # personal_data | security
    event: Mapped[str] = mapped_column(String(48))  # the purpose (personal_data) or what happened (security)
    username: Mapped[str | None] = mapped_column(String(64))  # who; for a failed sign-in, the name tried
    display_name: Mapped[str] = mapped_column(String(128), default="")
    subject: Mapped[str | None] = mapped_column(String(64))  # whose: the ID number, masked
    subject_ref: Mapped[str | None] = mapped_column(String(64))  # whose: e.g. applicant:42
    case_no: Mapped[str | None] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(64))  # the client's address
    detail: Mapped[str] = mapped_column(String(500), default="")


class SchedulerRun(Base):
    """The last tick of the scheduler that holds the leader lock: who, when, how long, how it went.

    One row per scheduler name, overwritten by each tick; the metrics endpoint reads it, so the
    scheduler's last run is visible wherever it runs.
    """

    __tablename__ = "scheduler_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))  # host:pid of the leader
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[float] = mapped_column(Float)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    hook_seconds: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)  # e.g. the SLA sweep


class SignInCounter(Base):
    """Failed sign-ins counted per key (an account at one client, one client, one account) in a
    window, shared by every web process; engine/throttle.py explains the keys and the limits."""

    __tablename__ = "sign_in_counters"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an account's slowed attempts
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an account at a known client


class Opinion(Base):
    """One signed opinion (审批意见) of one step of a case: appended, never changed, never deleted.

    The rows of a case, in order, are its 审批表. ``kind`` is ``completed`` (the step's completion) or
    ``sent_back`` (退回, the text is the reason). The signer's name and group are copied as they were
    when signing, so a later rename does not rewrite a signed paper. The migration adds triggers that
    refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "opinions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(128))
    step_name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # completed | sent_back
    text: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(64))  # the step's decision value, e.g. approved
    decision_label: Mapped[str] = mapped_column(String(128))  # as the form titles it, e.g. 准予许可
    signer: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(128))
    signer_group: Mapped[str] = mapped_column(String(64))  # the group the step belonged to
    signer_role: Mapped[str] = mapped_column(String(16))  # member | supervisor | administrator | other
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApplicantSession(Base):
    """A signed-in applicant's page session (统一身份认证): whom the identity service vouched for.

    Applicants are no users: they hold no password, group or role here, and this row is all the
    office keeps of their sign-in. The cookie carries only the token, whose digest finds the row.
    """

    __tablename__ = "applicant_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issuer: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(256))  # the identity service's `sub`
    id_number: Mapped[str] = mapped_column(String(18))  # the person's, checked (GB 11643)
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32), default="")
    # [{code, name, role}]: the organisations the identity service vouches the person acts for
    organizations: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    acting_for: Mapped[str | None] = mapped_column(String(18))  # one of those codes, or None: themselves
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
