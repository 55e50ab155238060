"""Registry tables: administrative units, organisations, systems, users, roles, sessions."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum
from tinhso.core.generations import watch
from tinhso.core.text import fold

if TYPE_CHECKING:
    from sqlalchemy.engine.default import DefaultExecutionContext


class UnitSet(enum.StrEnum):
    CURRENT = "current"  # 34 provinces, two levels, from 01/07/2025
    LEGACY = "legacy"  # 63 provinces, three levels, until 30/06/2025


class UnitLevel(enum.StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


def _folded_name(context: DefaultExecutionContext) -> str:
    return fold(str(context.get_current_parameters()["name"]))  # type: ignore[no-untyped-call]


class AdministrativeUnit(Base):
    __tablename__ = "administrative_unit"
    __table_args__ = (
        UniqueConstraint("unit_set", "code"),
        Index("ix_administrative_unit_parent", "parent_id"),
        Index("ix_administrative_unit_set_level", "unit_set", "level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_set: Mapped[UnitSet] = mapped_column(value_enum(UnitSet, "unit_set"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The name folded (tinhso.core.text.fold) for search: "bich dong" finds "Bích Động".
    search_name: Mapped[str] = mapped_column(String(200), default=_folded_name)
    kind: Mapped[str] = mapped_column(String(64))
    level: Mapped[UnitLevel] = mapped_column(value_enum(UnitLevel, "unit_level"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="RESTRICT")
    )
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    parent: Mapped[AdministrativeUnit | None] = relationship(
        remote_side=[id], lazy="raise", foreign_keys=[parent_id]
    )


class UnitSuccession(Base):
    """A legacy unit (or part of it) that became part of a current unit on 01/07/2025."""

    __tablename__ = "unit_succession"
    __table_args__ = (
        UniqueConstraint("legacy_unit_id", "current_unit_id"),
        Index("ix_unit_succession_current", "current_unit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    legacy_unit_id: Mapped[int] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="CASCADE")
    )
    current_unit_id: Mapped[int] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="CASCADE")
    )
    # A split legacy unit went partly into several current units; exactly one of
    # them is the package's "most appropriate" successor (is_default).
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)


class OrganisationKind(enum.StrEnum):
    PROVINCE_COMMITTEE = "province_committee"  # UBND tỉnh
    DEPARTMENT = "department"  # sở, ban, ngành
    DISTRICT_COMMITTEE = "district_committee"  # UBND huyện (legacy)
    COMMUNE_COMMITTEE = "commune_committee"  # UBND xã, phường
    PUBLIC_SERVICE_UNIT = "public_service_unit"  # đơn vị sự nghiệp
    ENTERPRISE = "enterprise"  # doanh nghiệp
    OTHER = "other"


class Organisation(TimestampMixin, Base):
    __tablename__ = "organisation"
    __table_args__ = (
        Index("ix_organisation_parent", "parent_id"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[OrganisationKind] = mapped_column(
        value_enum(OrganisationKind, "organisation_kind")
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT")
    )
    administrative_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="RESTRICT")
    )
    tax_code: Mapped[str | None] = mapped_column(String(20))
    # A disabled organisation's systems are not usable: its consumers are refused at the token
    # endpoint and the gateway, its services are not served (as for a suspended system).
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    parent: Mapped[Organisation | None] = relationship(
        remote_side=[id], lazy="raise", foreign_keys=[parent_id]
    )
    administrative_unit: Mapped[AdministrativeUnit | None] = relationship(lazy="raise")


class SystemStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class InformationSystem(TimestampMixin, Base):
    """An agency's information system; it consumes services, provides them, or both."""

    __tablename__ = "information_system"
    __table_args__ = (
        UniqueConstraint("organisation_id", "code"),
        Index("ix_information_system_organisation", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(64))
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    is_consumer: Mapped[bool] = mapped_column(Boolean, default=True)
    is_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[SystemStatus] = mapped_column(
        value_enum(SystemStatus, "system_status"), default=SystemStatus.ACTIVE
    )

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class Role(enum.StrEnum):
    ORGANISATION_ADMIN = "organisation_admin"
    OFFICER = "officer"
    VIEWER = "viewer"


class User(TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Consecutive wrong passwords, and until when the account refuses logins after too many.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoleAssignment(Base):
    """A user's role in one organisation (and, for admins, in its whole subtree)."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id"),
        Index("ix_role_assignment_organisation", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(value_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class CredentialKind(enum.StrEnum):
    PORTAL_SESSION = "portal_session"
    API_TOKEN = "api_token"  # noqa: S105 - a kind, not a secret


class UserCredential(Base):
    """A portal session or API bearer token; only the token's digest is stored."""

    __tablename__ = "user_credential"
    __table_args__ = (Index("ix_user_credential_user", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[CredentialKind] = mapped_column(value_enum(CredentialKind, "credential_kind"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="raise")


class SignInFailure(Base):
    """Failed sign-ins counted per (account, client address) and per address (``account`` is
    ``""``): officials' passwords and systems' client credentials alike. See
    :mod:`tinhso.registry.backoff`."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        UniqueConstraint("account", "address"),
        Index("ix_sign_in_failure_last_failed_at", "last_failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "user:<id>" or "client:<client_id>", or "" for every account tried from the address.
    account: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Until when attempts from the address (for the account) wait; None while still free.
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The unit trees feed every figure computed per unit; a process keeping such figures reads this
# generation (``core.generations``) to know whether the trees changed since.
UNITS_GENERATION = "units"
watch(UNITS_GENERATION, AdministrativeUnit, UnitSuccession)
