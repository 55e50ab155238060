"""Exchange tables: services, connection requests, grants, system credentials, signing keys,
the hash-chained audit log and its signed checkpoints, and the change counter gateways watch.

Any change to services, grants, credentials or signing keys bumps ``ExchangeState.version`` in
the same transaction (see ``tinhso.exchange.repository.bump_state``), so gateways know to reload.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum
from tinhso.core.text import fold

# Integer on SQLite so that the column is a rowid alias; BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Classification(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"  # personal data (Decree 13/2023): grants need a legal basis


class ServiceStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ClientAuthKind(enum.StrEnum):
    CLIENT_SECRET = "client_secret"  # noqa: S105 - a kind, not a secret
    PRIVATE_KEY_JWT = "private_key_jwt"
    MTLS = "mtls"


class KeyStatus(enum.StrEnum):
    NEXT = "next"  # published in JWKS, not signing yet
    ACTIVE = "active"  # signs new tokens
    RETIRED = "retired"  # published until retire_after, then dropped from JWKS


SEARCHED_FIELDS = ("code", "name_vi", "name_en", "description_vi", "description_en")


def service_search_text(values: dict[str, Any]) -> str:
    """The code, names and descriptions of a service folded (tinhso.core.text.fold) as one
    text, so that "ho so suc khoe" finds "Hồ sơ sức khỏe"."""
    return fold(" ".join(str(values[name]) for name in SEARCHED_FIELDS if values.get(name)))


def _searched(context: Any) -> str:
    return service_search_text(context.get_current_parameters())


class ExchangeService(TimestampMixin, Base):
    """An API a provider system offers through the gateway, one row per version."""

    __tablename__ = "exchange_service"
    __table_args__ = (
        UniqueConstraint("provider_system_id", "code", "version"),
        Index("ix_exchange_service_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_system_id: Mapped[int] = mapped_column(
        ForeignKey("information_system.id", ondelete="RESTRICT")
    )
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(16))
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    base_url: Mapped[str] = mapped_column(String(2000))
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    response_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[Classification] = mapped_column(
        value_enum(Classification, "exchange_classification"), default=Classification.INTERNAL
    )
    timeout_ms: Mapped[int] = mapped_column(Integer, default=10_000)
    max_request_bytes: Mapped[int] = mapped_column(Integer, default=1024 * 1024)
    max_response_bytes: Mapped[int] = mapped_column(Integer, default=16 * 1024 * 1024)
    status: Mapped[ServiceStatus] = mapped_column(
        value_enum(ServiceStatus, "exchange_service_status"), default=ServiceStatus.DRAFT
    )
    # SEARCHED_FIELDS folded, for the catalogue's search (kept by the catalogue service).
    search_text: Mapped[str] = mapped_column(Text, default=_searched)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConnectionRequest(Base):
    """A consumer system's request to use a service (Decree 194/2025: purpose + legal basis)."""

    __tablename__ = "exchange_connection_request"
    __table_args__ = (
        Index("ix_exchange_connection_request_service", "service_id", "status"),
        Index("ix_exchange_connection_request_consumer", "consumer_system_id"),
        Index("ix_exchange_connection_request_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_system_id: Mapped[int] = mapped_column(
        ForeignKey("information_system.id", ondelete="RESTRICT")
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("exchange_service.id", ondelete="RESTRICT"))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    requested_methods: Mapped[list[str]] = mapped_column(JSON)
    requested_paths: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[RequestStatus] = mapped_column(
        value_enum(RequestStatus, "exchange_request_status"), default=RequestStatus.PENDING
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Grant(Base):
    """Permission for a consumer system to call a service, within methods/paths/time/limits."""

    __tablename__ = "exchange_grant"
    __table_args__ = (
        Index("ix_exchange_grant_consumer_service", "consumer_system_id", "service_id"),
        Index("ix_exchange_grant_service", "service_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_connection_request.id", ondelete="RESTRICT")
    )
    consumer_system_id: Mapped[int] = mapped_column(
        ForeignKey("information_system.id", ondelete="RESTRICT")
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("exchange_service.id", ondelete="RESTRICT"))
    allowed_methods: Mapped[list[str]] = mapped_column(JSON)
    # Path prefixes ("/citizens/") or templates ("/citizens/{id}") relative to the service.
    allowed_paths: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quota_per_day: Mapped[int | None] = mapped_column(Integer)
    rate_per_second: Mapped[int | None] = mapped_column(Integer)
    burst: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # Suspended: not honoured until resumed (an incident, an audit); a revocation is final.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    suspended_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    revoked_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SystemCredential(Base):
    """How a system authenticates at the token endpoint (or at the gateway over mTLS)."""

    __tablename__ = "exchange_system_credential"
    __table_args__ = (
        Index("ix_exchange_system_credential_system", "system_id"),
        Index("ix_exchange_system_credential_certificate", "certificate_sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("information_system.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ClientAuthKind] = mapped_column(value_enum(ClientAuthKind, "exchange_client_auth"))
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Token endpoint lockout: consecutive failed client authentications, and until when the
    # client_id gets no token after too many (see tokens.TokenService).
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ClientAssertionUse(Base):
    """A private_key_jwt assertion's jti, kept until the assertion expires (replay defence)."""

    __tablename__ = "exchange_client_assertion"
    __table_args__ = (
        UniqueConstraint("client_id", "jti"),
        Index("ix_exchange_client_assertion_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SigningKey(Base):
    """The platform's Ed25519 keys for access tokens and audit checkpoints."""

    __tablename__ = "exchange_signing_key"
    __table_args__ = (Index("ix_exchange_signing_key_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="EdDSA")
    # PKCS#8 PEM encrypted with a key derived from settings.secret_key.
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[KeyStatus] = mapped_column(value_enum(KeyStatus, "exchange_key_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A retired key stays in JWKS until then (tokens it signed have expired by then).
    retire_after: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """One gateway exchange; ``record_hash`` chains it to its predecessor (``prev_hash``)."""

    __tablename__ = "exchange_audit_record"
    __table_args__ = (
        # The only index besides the primary key: every query reads a time range (statistics,
        # export, replay), and each index is pages rewritten by every audit commit.
        Index("ix_exchange_audit_record_recorded_at", "recorded_at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    node: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(64))
    consumer: Mapped[str | None] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(300))
    grant_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    path_template: Mapped[str | None] = mapped_column(String(2000))
    path: Mapped[str | None] = mapped_column(String(2000))  # as received (audit.PATH_MAX)
    status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(64))
    latency_us: Mapped[int] = mapped_column(BigId)
    bytes_in: Mapped[int] = mapped_column(BigId)
    bytes_out: Mapped[int] = mapped_column(BigId)
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    response_sha256: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signature over the chain head at ``last_seq`` (Ed25519, key ``kid``).

    ``number``: 1, 2, 3 ... without gaps, taken under the chain lock and signed with the head,
    so that a deleted checkpoint shows as a gap and the newest one can be witnessed elsewhere.
    """

    __tablename__ = "exchange_audit_checkpoint"
    __table_args__ = (
        Index("ix_exchange_audit_checkpoint_last_seq", "last_seq"),
        Index("ux_exchange_audit_checkpoint_number", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(BigId)
    last_seq: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))


class ExchangeState(Base):
    """One row: ``version`` goes up with every change a gateway must reload."""

    __tablename__ = "exchange_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigId, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
