"""Intake's tables: catalog item versions, applicants, applications, their materials, stored files,
officers' overrides and the applicants' ratings.

An application is the intake side of one engine case (one row per case). Its decisions are not
copied here: they live on the engine's task rows and history, so a decision taken through any
entry point is seen the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime
from engine.privacy import mask_id_number, mask_phone

JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class CatalogItem(Base):
    """One version of a service item; a new version is stored only when its content hash changes."""

    __tablename__ = "intake_catalog_items"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_intake_catalog_items_code_version"),
        UniqueConstraint("code", "content_hash", name="uq_intake_catalog_items_code_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    department: Mapped[str] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)  # ServiceItem.as_dict()
    source_file: Mapped[str | None] = mapped_column(String(512))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by: Mapped[str | None] = mapped_column(String(64))


class Applicant(Base):
    """A person or organization, keyed by the ID number / unified social credit code (一号申请)."""

    __tablename__ = "intake_applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | organization
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        # Reprs end up in logs and tracebacks: the key number and the phone only masked.
        return (f"Applicant(id={self.id!r}, kind={self.kind!r}, id_number={mask_id_number(self.id_number or '')!r}, "
                f"phone={mask_phone(self.phone or '')!r})")


class StoredFile(Base):
    """A file kept once on disk under the upload directory, addressed by its SHA-256."""

    __tablename__ = "intake_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Application(Base):
    """The intake side of a case: who applied for which item version, when, through which channel."""

    __tablename__ = "intake_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("intake_applicants.id"), index=True)
    catalog_item_id: Mapped[int] = mapped_column(ForeignKey("intake_catalog_items.id"))
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # window | online | mobile
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_on: Mapped[date] = mapped_column(Date)
    # The day the (complete) materials last arrived: the 5-working-day rule counts from here.
    intake_since: Mapped[date] = mapped_column(Date)
    intake_element: Mapped[str | None] = mapped_column(String(128))  # the first front-desk task
    deemed_accepted_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(64))

    applicant: Mapped[Applicant] = relationship(lazy="joined")
    item: Mapped[CatalogItem] = relationship(lazy="joined")
    materials: Mapped[list[ApplicationMaterial]] = relationship(
        lazy="selectin", order_by="ApplicationMaterial.id", back_populates="application")


class ApplicationMaterial(Base):
    """One material of an application: given now, presented on paper, reused or resubmitted."""

    __tablename__ = "intake_materials"
    __table_args__ = (Index("ix_intake_materials_reuse", "applicant_id", "code", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id", ondelete="CASCADE"),
                                                index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("intake_applicants.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16))  # given | paper | reused | resubmitted
    file_sha256: Mapped[str | None] = mapped_column(ForeignKey("intake_files.sha256"))
    filename: Mapped[str | None] = mapped_column(String(256))
    reused_from_id: Mapped[int | None] = mapped_column(ForeignKey("intake_materials.id"))
    provided_at: Mapped[datetime] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(back_populates="materials")
    file: Mapped[StoredFile | None] = relationship(lazy="joined")


class Override(Base):
    """An officer let something through that a check refused (a USCC failing its check character)."""

    __tablename__ = "intake_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id", ondelete="CASCADE"),
                                                index=True)
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rating(Base):
    """The applicant's evaluation (好差评) of a closed case; bad ones start a follow-up case."""

    __tablename__ = "intake_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    grade: Mapped[str] = mapped_column(String(32))
    bad: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    followup_case_no: Mapped[str | None] = mapped_column(String(32))
