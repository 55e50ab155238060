"""API shapes of the exchange control plane."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from tinhso.exchange.models import (
    Classification,
    ClientAuthKind,
    RequestStatus,
    ServiceStatus,
)

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$"),
    Field(description="Lower-case code: letters, digits, '.', '_' or '-' (2–64 characters)"),
]
Version = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^v[0-9]{1,4}(\.[0-9]{1,4}){0,2}$"),
    Field(description="Version label, e.g. v1 or v2.1"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=8000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=4000)]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
GrantPath = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=500,
        pattern=r"^/([A-Za-z0-9._~\-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|\*)?(/([A-Za-z0-9._~\-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|\*)?)*$",
    ),
    Field(
        description="Path relative to the service: a prefix ending in '/' or a template such as /citizens/{id}"
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SystemKey(Strict):
    organisation_code: Code
    system_code: Code


class ServiceKey(Strict):
    organisation_code: Code
    system_code: Code
    code: Code
    version: Version


def _no_dot_segments(paths: list[str] | None) -> list[str] | None:
    for path in paths or ():
        if any(segment in {".", ".."} for segment in path.split("/")):
            msg = "path must not contain '.' or '..' segments"
            raise ValueError(msg)
    return paths


class ServiceCreate(Strict):
    provider: SystemKey
    code: Code
    version: Version = "v1"
    name_vi: Name
    name_en: Name | None = None
    base_url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)
    ]
    openapi: dict[str, Any] | None = None
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    classification: Classification = Classification.INTERNAL
    timeout_ms: int = Field(default=10_000, ge=100, le=120_000)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1, le=100 * 1024 * 1024)
    max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)


class ServiceUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    base_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
        | None
    ) = None
    openapi: dict[str, Any] | None = None
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    classification: Classification | None = None
    timeout_ms: int | None = Field(default=None, ge=100, le=120_000)
    max_request_bytes: int | None = Field(default=None, ge=1, le=100 * 1024 * 1024)
    max_response_bytes: int | None = Field(default=None, ge=1, le=1024 * 1024 * 1024)


class ServiceTransition(Strict):
    status: ServiceStatus


class ServiceOut(BaseModel):
    organisation_code: str
    system_code: str
    code: str
    version: str
    key: str = Field(description="org/system/code/version, as used in grants and audit records")
    name_vi: str
    name_en: str | None
    base_url: str
    description_vi: str | None
    description_en: str | None
    classification: Classification
    timeout_ms: int
    max_request_bytes: int
    max_response_bytes: int
    status: ServiceStatus
    has_openapi: bool
    request_schema: dict[str, Any] | None
    response_schema: dict[str, Any] | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectionRequestCreate(Strict):
    consumer: SystemKey
    service: ServiceKey
    purpose: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=4000)
    ]
    legal_basis: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=5, max_length=4000)
    ] = Field(description="Văn bản pháp lý làm căn cứ / the legal instrument the use rests on")
    requested_methods: list[HttpMethod] = Field(min_length=1, max_length=7)
    requested_paths: list[GrantPath] = Field(min_length=1, max_length=50)

    _paths = field_validator("requested_paths")(_no_dot_segments)


class ApprovalCreate(Strict):
    """Approve, optionally narrowing what was requested (never widening it)."""

    allowed_methods: list[HttpMethod] | None = Field(default=None, min_length=1, max_length=7)
    allowed_paths: list[GrantPath] | None = Field(default=None, min_length=1, max_length=50)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    quota_per_day: int | None = Field(default=None, ge=1, le=1_000_000_000)
    rate_per_second: int | None = Field(default=None, ge=1, le=1_000_000)
    burst: int | None = Field(default=None, ge=1, le=1_000_000)
    reason: LongText | None = None

    _paths = field_validator("allowed_paths")(_no_dot_segments)


class RefusalCreate(Strict):
    reason: Reason = Field(description="Lý do từ chối (bắt buộc) / why the request is refused")


class WithdrawalCreate(Strict):
    reason: LongText | None = None


class ConnectionRequestOut(BaseModel):
    id: int
    consumer: str
    service: str
    purpose: str
    legal_basis: str
    requested_methods: list[str]
    requested_paths: list[str]
    status: RequestStatus
    due_at: datetime
    overdue: bool
    decided_at: datetime | None
    decision_reason: str | None
    grant_id: int | None
    created_at: datetime


class GrantOut(BaseModel):
    id: int
    connection_request_id: int | None
    consumer: str
    service: str
    allowed_methods: list[str]
    allowed_paths: list[str]
    valid_from: datetime
    valid_until: datetime | None
    quota_per_day: int | None
    rate_per_second: int | None
    burst: int | None
    revoked_at: datetime | None
    revoked_reason: str | None
    suspended_at: datetime | None = None
    suspended_reason: str | None = None
    created_at: datetime


class RevocationCreate(Strict):
    reason: Reason = Field(description="Lý do thu hồi (bắt buộc) / why the grant is revoked")


class SuspensionCreate(Strict):
    reason: Reason = Field(description="Lý do tạm dừng (bắt buộc) / why the grant is suspended")


class NarrowingCreate(Strict):
    allowed_methods: list[HttpMethod] | None = Field(
        default=None, description="The methods kept (a subset of those granted)"
    )
    quota_per_day: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="A lower daily quota"
    )


class CredentialCreate(Strict):
    kind: ClientAuthKind = ClientAuthKind.CLIENT_SECRET
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    public_jwk: dict[str, Any] | None = Field(
        default=None,
        description="For private_key_jwt: the system's public key (Ed25519, EC or RSA)",
    )
    certificate_sha256: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, pattern=r"^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$"
            ),
        ]
        | None
    ) = Field(default=None, description="For mtls: SHA-256 fingerprint of the client certificate")
    expires_at: AwareDatetime | None = None


class CredentialOut(BaseModel):
    client_id: str
    system: str
    kind: ClientAuthKind
    label: str | None
    public_jwk: dict[str, Any] | None
    certificate_sha256: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    locked_until: datetime | None = Field(
        default=None,
        description="Token issuance locked after repeated failed authentications, until then",
    )
    failed_attempts: int = Field(
        default=0, description="Consecutive failed client authentications since the last success"
    )


class CredentialIssued(CredentialOut):
    client_secret: str | None = Field(
        default=None, description="Shown once; only its argon2 hash is stored"
    )


class OAuthErrorOut(BaseModel):
    """An RFC 6749 §5.2 error answer of the token endpoint (application/json)."""

    error: str
    error_description: str
    error_description_vi: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int
    scope: str | None = None
