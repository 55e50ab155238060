"""Field report tables (phản ánh hiện trường): categories, routing, reports, their timeline
and the API keys of client applications.

A report's responsible organisation and unit are the registry's (referenced by id, never
copied); a report with no responsible organisation waits in the operations centre's triage
queue. Every change of state is a :class:`ReportEvent` row: the timeline is never rewritten.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum


class Severity(enum.StrEnum):
    URGENT = "urgent"  # khẩn
    NORMAL = "normal"  # bình thường
    COMPLEX = "complex"  # phức tạp


class ReportState(enum.StrEnum):
    SUBMITTED = "submitted"  # chờ tiếp nhận
    ACCEPTED = "accepted"  # đã tiếp nhận
    REFUSED = "refused"  # từ chối tiếp nhận
    ASSIGNED = "assigned"  # đã phân công
    IN_PROGRESS = "in_progress"  # đang xử lý
    RESOLVED = "resolved"  # đã xử lý
    DUPLICATE = "duplicate"  # trùng
    REOPENED = "reopened"  # mở lại


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"  # an application through Open311
    HOTLINE = "hotline"  # typed in by an operator


class Rating(enum.StrEnum):
    SATISFIED = "satisfied"  # hài lòng
    UNSATISFIED = "unsatisfied"  # chưa hài lòng


class ReportCategory(Base):
    """A kind of report (an Open311 service), with the extra attributes it asks for."""

    __tablename__ = "report_category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_vi: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    group_vi: Mapped[str] = mapped_column(String(200), default="")
    keywords: Mapped[str] = mapped_column(String(500), default="")
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, "report_severity"))
    # Open311 attributes: [{"code", "datatype", "required", "description", "order", "values"}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Open reports of this category within this radius are offered as possible duplicates.
    duplicate_radius_m: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportRoute(Base):
    """Who handles a category in a unit. A row with no unit is the category's default (a
    department); a row with no category is the unit's default (its commune committee)."""

    __tablename__ = "report_route"
    __table_args__ = (
        UniqueConstraint("category_id", "unit_id", name="uq_report_route_category_unit"),
        CheckConstraint(
            "category_id IS NOT NULL OR unit_id IS NOT NULL", name="route_names_something"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_category.id", ondelete="CASCADE")
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="CASCADE")
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))


class Report(TimestampMixin, Base):
    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_organisation_state", "organisation_id", "state"),
        Index("ix_report_unit", "unit_id"),
        Index("ix_report_created", "created_at"),
        Index("ix_report_category_state", "category_id", "state"),
        CheckConstraint("length(description) <= 4000", name="description_at_most_4000_characters"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public tracking code (Open311 service_request_id), e.g. "PA-2026-000123".
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("report_category.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(500), default="")
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="RESTRICT")
    )
    # As the reporter typed it, when it was a legacy (pre-01/07/2025) commune name.
    unit_as_typed: Mapped[str] = mapped_column(String(200), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[Channel] = mapped_column(value_enum(Channel, "report_channel"))
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_api_key.id", ondelete="RESTRICT")
    )
    reporter_name: Mapped[str] = mapped_column(String(200), default="")
    reporter_email: Mapped[str] = mapped_column(String(254), default="")
    reporter_phone: Mapped[str] = mapped_column(String(32), default="")
    reporter_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # sha256 of the reporter's key (shown once at submission): it rates and reopens.
    reporter_key_hash: Mapped[str] = mapped_column(String(64))
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, "report_severity"))
    state: Mapped[ReportState] = mapped_column(value_enum(ReportState, "report_state"))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT")
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    accept_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str] = mapped_column(Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("report.id", ondelete="SET NULL")
    )
    rating: Mapped[Rating | None] = mapped_column(value_enum(Rating, "report_rating"))
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)  # demo data, labelled
    # Keyed hash of the submitting address (web form): rate limits without storing the address.
    source_hash: Mapped[str] = mapped_column(String(64), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # moderated out of public view
    # When the deadline reminder and the overdue notice went out (each once per deadline).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportEvent(Base):
    """One step of a report's timeline: who did what, when and why."""

    __tablename__ = "report_event"
    __table_args__ = (Index("ix_report_event_report", "report_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[ReportState | None] = mapped_column(
        value_enum(ReportState, "report_event_from_state")
    )
    to_state: Mapped[ReportState] = mapped_column(value_enum(ReportState, "report_event_to_state"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")  # "reporter", an app
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportPhoto(Base):
    """A photo of a report: re-encoded as JPEG, every metadata block (EXIF, GPS, XMP, ICC
    comments) stripped, at most 2048 px on its longer side; stored under the data directory."""

    __tablename__ = "report_photo"
    __table_args__ = (Index("ix_report_photo_report", "report_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    stored_path: Mapped[str] = mapped_column(String(300))  # relative to the data directory
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The copy the public sees once staff covered areas of it (faces, number plates); the
    # stored copy above is then seen only by the officials handling the report.
    redacted_path: Mapped[str | None] = mapped_column(String(300))
    redacted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportVideo(Base):
    """A short video of a report: its audio and video streams copied into a new MP4 or WebM
    file with no metadata (no container or stream tags, no data tracks such as a phone's GPS
    track), and a poster frame as a JPEG of pixels only. A video cannot be redacted, so the
    public sees it only once an official of the report's organisation has released it."""

    __tablename__ = "report_video"
    __table_args__ = (Index("ix_report_video_report", "report_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    stored_path: Mapped[str] = mapped_column(String(300))  # relative to the data directory
    poster_path: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(40))  # video/mp4 | video/webm
    duration_ms: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportApiKey(Base):
    """A client application's Open311 key (a city app, the hotline's system)."""

    __tablename__ = "report_api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists to tell keys apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
