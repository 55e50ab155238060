"""Settings read from the environment (prefix ``TINHSO_``) or a ``.env`` file.

One model, with sections: ``gateway`` (``TINHSO_GATEWAY_*``), ``worker`` (``TINHSO_WORKER_*``),
``mail`` (``TINHSO_MAIL_*``), ``storage`` (``TINHSO_STORAGE_*``) and ``reports``
(``TINHSO_REPORTS_*``). A section's variable is
the section's prefix and the field's name (``TINHSO_GATEWAY_POLL_SECONDS``), read from the
environment and ``.env`` alike (the environment wins).

Settings are built in the app factory or the CLI, never at import time; the gateway reads its
section once when a worker starts.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    IPvAnyNetwork,
    SecretStr,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# The only secret that is allowed to be a known value, and only in the dev and
# test environments. Anything else refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105

Environment = Literal["dev", "test", "production"]


class InsecureSettingsError(ValueError):
    """Raised when production settings keep a development default."""


class GatewaySection(BaseModel):
    """The data plane's tuning (``TINHSO_GATEWAY_*``), see :mod:`tinhso.exchange.gateway.app`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # The gateway's address as consumers reach it (https://lgsp.example.gov.vn): the
    # endpoint of each service in the open data catalogue's DCAT DataService entries.
    # Unset: the platform's own address.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Worker processes of `tinhso gateway` (its --workers option wins).
    workers: int = Field(default=2, ge=1, le=256)
    poll_seconds: float = Field(default=0.5, gt=0)
    # A signed checkpoint of the audit chain about this often under traffic (at most 1.5x
    # apart), each also witnessed on this node's disk and in Redis (tinhso.exchange.audit.witness).
    checkpoint_seconds: float = Field(default=5.0, gt=0)
    # Spools of this node's processes that are gone are looked for this often, with or without
    # traffic, and replayed.
    audit_orphan_seconds: float = Field(default=5.0, gt=0)
    # How long the registry may serve after the database last confirmed it: the copy saved on
    # this node's disk (to start while the database is down) and the one in memory alike.
    # Past it, exchanges are refused (503) until the database answers again.
    registry_max_age_seconds: float = Field(default=3600.0, gt=0)
    # Under load, at most one audit commit per this many seconds per process (group size);
    # an idle process commits at once. 2 ms: bigger groups, fewer fsyncs per request.
    audit_linger_seconds: float = Field(default=0.002, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=10.0, gt=0)
    token_cache_entries: int = Field(default=50_000, ge=1)
    node: str | None = None
    # Mutual TLS (tinhso.exchange.gateway.client_certificates): the TLS terminators whose client
    # certificate header is believed (JSON list of networks; none: the mTLS path is off).
    trusted_proxies: list[str] = []
    client_certificate_header: str = "x-ssl-client-cert"
    # What one consumer connection may take (tinhso.exchange.gateway.http.server.Limits); unset:
    # the server's own defaults.
    max_head_bytes: int | None = Field(default=None, ge=1024)
    head_seconds: float | None = Field(default=None, gt=0)
    keepalive_seconds: float | None = Field(default=None, gt=0)
    body_seconds: float | None = Field(default=None, gt=0)
    send_seconds: float | None = Field(default=None, gt=0)
    # A request body must be whole this many seconds after its request began (408 past it),
    # and one consumer may have this many bodies in progress at once per worker (429 past it).
    body_total_seconds: float = Field(default=60.0, gt=0)
    uploads_per_consumer: int = Field(default=8, ge=1)
    # A streamed answer: all the provider's waits for its body together (then it is cut).
    response_total_seconds: float = Field(default=300.0, gt=0)
    # How long a provider host's checked addresses are kept before it is resolved again.
    dns_seconds: float = Field(default=30.0, ge=0)
    # On SIGTERM: how long answers in progress may take before the workers exit.
    grace_seconds: float = Field(default=30.0, ge=0)


class WorkerSection(BaseModel):
    """`tinhso worker` (``TINHSO_WORKER_*``); its client is ``TINHSO_COLLECTION_*``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # How often `tinhso worker` looks at the job table for a job that is due.
    poll_seconds: float = Field(default=5.0, ge=0.2, description="seconds between polls")
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


class MailSection(BaseModel):
    """Outgoing mail (``TINHSO_MAIL_*``); without a host no mail is sent."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    sender: EmailStr | None = None
    user: str | None = None
    password: SecretStr | None = None
    # starttls (port 587), tls (implicit TLS, port 465) or none (a local relay only).
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _complete(self) -> MailSection:
        if self.host and not self.sender:
            msg = "TINHSO_MAIL_SENDER must be set with TINHSO_MAIL_HOST (cần địa chỉ người gửi)"
            raise ValueError(msg)
        if self.password is not None and not self.user:
            msg = "TINHSO_MAIL_PASSWORD needs TINHSO_MAIL_USER (mật khẩu cần tên đăng nhập)"
            raise ValueError(msg)
        return self


class StorageSection(BaseModel):
    """Uploaded files (``TINHSO_STORAGE_*``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    upload_dir: Path | None = Field(default=None, description="empty: data_dir/uploads")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)
    max_files_per_upload: int = Field(default=10, ge=1, le=1000)
    # Where open data resource files live (tinhso.opendata.catalogue.storage): disk (under
    # data_dir) or s3 (a bucket of an S3-compatible store: AWS S3, MinIO, Ceph RGW, ...).
    backend: Literal["disk", "s3"] = "disk"
    # Empty: AWS S3 itself; MinIO and the like: their address (https://s3.tinh.gov.vn).
    s3_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    s3_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_region: str | None = None
    # Empty: boto3's own chain (AWS_* variables, instance role).
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # bucket in the path (https://host/bucket/key), as MinIO-like servers want it.
    s3_path_style: bool = False
    # Put before every key, so one bucket may serve several platforms ("tinhso/").
    s3_prefix: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9._/-]*$")
    # Downloads redirect to a presigned URL instead of streaming through the platform (the
    # platform still decides who may download; the URL works for anyone until it expires).
    s3_presigned_downloads: bool = False
    s3_presigned_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _s3_complete(self) -> StorageSection:
        if self.backend == "s3" and not self.s3_bucket:
            msg = "TINHSO_STORAGE_S3_BUCKET must be set with TINHSO_STORAGE_BACKEND=s3 (cần tên bucket)"
            raise ValueError(msg)
        if self.s3_secret_access_key is not None and not self.s3_access_key_id:
            msg = (
                "TINHSO_STORAGE_S3_SECRET_ACCESS_KEY needs TINHSO_STORAGE_S3_ACCESS_KEY_ID "
                "(khoá bí mật cần mã khoá truy cập)"
            )
            raise ValueError(msg)
        return self


class ReportsSection(BaseModel):
    """Citizen field reports (``TINHSO_REPORTS_*``), see :mod:`tinhso.reports.handling.deadlines`.

    Deadlines are counted on the working calendar (office hours, weekends, holidays and
    decided days): acceptance in working hours for every severity; resolution, after
    acceptance, in working hours for urgent reports and in working days for the others
    (iHanoi's rule: accept within 8 working hours, urgent resolved within 4).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    accept_hours: float = Field(default=8, gt=0, le=400)
    urgent_resolve_hours: float = Field(default=4, gt=0, le=400)
    normal_resolve_days: int = Field(default=3, ge=1, le=120)
    complex_resolve_days: int = Field(default=10, ge=1, le=120)
    # A reporter may reject the answer (mở lại) within this many days of it.
    reopen_days: int = Field(default=7, ge=0, le=90)
    # Open311 GET /requests: at most this many reports, from at most this many days back.
    open311_max_requests: int = Field(default=1000, ge=1, le=10_000)
    open311_default_days: int = Field(default=90, ge=1, le=3660)
    # Reports one application key may send an hour (a runaway client cannot flood the queue).
    open311_reports_per_key_hour: int = Field(default=600, ge=1, le=100_000)
    # The province (current set's code) whose communes the public map of reports shows.
    map_province: str = Field(default="24", pattern=r"^[0-9]{2}$")


# The secrets of sections and settings, as `tinhso config check` shows them.
HIDDEN = "**********"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TINHSO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # TINHSO_GATEWAY_POLL_SECONDS -> gateway.poll_seconds: the section's name, then the
        # field's whole name (never split further).
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    environment: Environment = "dev"
    data_dir: Path = Path("var")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file in data_dir.",
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Worker processes of `tinhso serve` (its --workers option wins): one per core is a start.
    serve_workers: int = Field(default=1, ge=1, le=64)

    redis_url: str | None = None
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; without it only loopback may read"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    portal_session_minutes: int = Field(default=480, ge=5, le=24 * 60)
    api_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    page_size_default: int = Field(default=50, ge=1)
    page_size_max: int = Field(default=200, ge=1, le=1000)

    # Office hours (Vietnam time) for deadlines counted in working hours (core.calendar).
    office_morning_start: time = time(7, 30)
    office_morning_end: time = time(11, 30)
    office_afternoon_start: time = time(13, 0)
    office_afternoon_end: time = time(17, 0)

    # Exchange (LGSP): access tokens and which provider base URLs may be registered.
    exchange_token_seconds: int = Field(default=300, ge=30, le=3600)
    exchange_allowed_schemes: list[str] = Field(default_factory=lambda: ["https", "http"])
    exchange_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="CIDRs providers may live in; empty = any public or private address",
    )
    exchange_allow_loopback: bool = False
    exchange_allow_link_local: bool = False
    # OAuth2 token endpoint abuse: requests per minute per client IP address (shared through
    # Redis when redis_url is set, else per process); failed client authentications of a
    # client_id from one address before that address waits (3x as many from one address for
    # any client_id), and the longest wait, which doubles from 5 s (tinhso.registry.backoff).
    oauth_rate_per_minute: int = Field(default=120, ge=1, le=100_000)
    oauth_max_failed_attempts: int = Field(default=10, ge=1, le=1000)
    oauth_lockout_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)

    # Monitoring collection (`tinhso worker`): the hub's own consumer system calls the gateway.
    collection_gateway_url: str | None = None
    collection_token_url: str | None = Field(
        default=None, description="OAuth2 token endpoint; empty = base_url + /oauth/token"
    )
    collection_client_id: str | None = None
    collection_client_secret: SecretStr | None = None

    gateway: GatewaySection = GatewaySection()
    worker: WorkerSection = WorkerSection()
    mail: MailSection = MailSection()
    storage: StorageSection = StorageSection()
    reports: ReportsSection = ReportsSection()

    @model_validator(mode="after")
    def _page_size_default_within_maximum(self) -> Settings:
        if self.page_size_default > self.page_size_max:
            msg = "TINHSO_PAGE_SIZE_DEFAULT must not exceed TINHSO_PAGE_SIZE_MAX"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_dev(self) -> Settings:
        if self.environment == "production":
            secret = self.secret_key.get_secret_value()
            if secret == DEV_SECRET_KEY or len(secret) < 32:
                msg = (
                    "TINHSO_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (khóa bí mật phải được đặt khi chạy production)"
                )
                raise InsecureSettingsError(msg)
            if not self.database_url:
                msg = "TINHSO_DATABASE_URL must be set in production (cần cấu hình cơ sở dữ liệu)"
                raise InsecureSettingsError(msg)
            if self.mail.password is not None and self.mail.security == "none":
                msg = (
                    "TINHSO_MAIL_SECURITY must be starttls or tls in production when a mail "
                    "password is set (không gửi mật khẩu thư điện tử khi không mã hoá)"
                )
                raise InsecureSettingsError(msg)
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tinhso.sqlite3').resolve()}"

    @property
    def upload_dir(self) -> Path:
        return self.storage.upload_dir or self.data_dir / "uploads"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _hide_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _shown(name: str, value: object) -> str:
    if isinstance(value, SecretStr):
        return HIDDEN if value.get_secret_value() else "[not set]"
    if name.endswith("_url") and value:
        return _hide_url_password(str(value))
    return str(value)


def displayed_settings(settings: Settings) -> list[tuple[str, str]]:
    """Every setting, sections as ``section.field``, as ``tinhso config check`` prints them:
    secrets as ``**********`` (set) or ``[not set]``, URLs without their password."""
    shown: list[tuple[str, str]] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            shown.extend(
                (f"{name}.{field}", _shown(field, getattr(value, field)))
                for field in type(value).model_fields
            )
        else:
            shown.append((name, _shown(name, value)))
    return shown


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
