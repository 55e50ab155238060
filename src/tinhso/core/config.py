"""Settings read from the environment (prefix ``TINHSO_``) or a ``.env`` file.

Settings are built in the app factory or the CLI, never at import time.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The only secret that is allowed to be a known value, and only in the dev and
# test environments. Anything else refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105

Environment = Literal["dev", "test", "production"]


class InsecureSettingsError(ValueError):
    """Raised when production settings keep a development default."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TINHSO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
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
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tinhso.sqlite3').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
