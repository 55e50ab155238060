"""Settings: environment prefix, and no development default survives into production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tinhso.core.config import DEV_SECRET_KEY, Settings, displayed_settings


def test_settings_read_the_tinhso_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_PAGE_SIZE_MAX", "120")
    monkeypatch.setenv("TINHSO_BASE_URL", "https://lgsp.bacgiang.gov.vn")
    settings = Settings(_env_file=None)
    assert settings.page_size_max == 120
    assert settings.secure_cookies


def test_sqlite_file_under_the_data_dir_by_default() -> None:
    settings = Settings(_env_file=None, data_dir=Path("/srv/tinhso"))
    assert settings.effective_database_url == "sqlite:////srv/tinhso/tinhso.sqlite3"


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_ENVIRONMENT", "production")
    monkeypatch.setenv("TINHSO_DATABASE_URL", "postgresql://tinhso@db/tinhso")
    with pytest.raises(ValidationError, match="TINHSO_SECRET_KEY"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="TINHSO_SECRET_KEY"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_SECRET_KEY", "x" * 48)
    assert Settings(_env_file=None).environment == "production"


def test_production_needs_a_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_ENVIRONMENT", "production")
    monkeypatch.setenv("TINHSO_SECRET_KEY", "y" * 48)
    with pytest.raises(ValidationError, match="TINHSO_DATABASE_URL"):
        Settings(_env_file=None)


def test_dev_may_keep_the_default_secret() -> None:
    settings = Settings(_env_file=None)
    assert settings.secret_key.get_secret_value() == DEV_SECRET_KEY
    assert "dev-only" not in repr(settings)  # secrets never appear in reprs or logs


def test_default_page_size_must_fit_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_PAGE_SIZE_MAX", "20")
    with pytest.raises(ValidationError, match="TINHSO_PAGE_SIZE_DEFAULT"):
        Settings(_env_file=None)


def test_a_value_in_dotenv_reaches_the_gateway_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "TINHSO_GATEWAY_WORKERS=6\n"
        "TINHSO_GATEWAY_REGISTRY_MAX_AGE_SECONDS=120\n"
        'TINHSO_GATEWAY_TRUSTED_PROXIES=["10.0.0.0/8"]\n'
        "TINHSO_WORKER_CONCURRENCY=3\n"
        "TINHSO_PAGE_SIZE_MAX=150\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=env_file)
    assert settings.gateway.workers == 6
    assert settings.gateway.registry_max_age_seconds == 120.0
    assert settings.gateway.trusted_proxies == ["10.0.0.0/8"]
    assert settings.worker.concurrency == 3
    assert settings.page_size_max == 150
    # The environment wins over .env, as for the platform's own settings.
    monkeypatch.setenv("TINHSO_GATEWAY_WORKERS", "4")
    assert Settings(_env_file=env_file).gateway.workers == 4
    assert Settings(_env_file=None).gateway.workers == 4


def test_sections_keep_their_defaults_without_variables() -> None:
    settings = Settings(_env_file=None)
    assert settings.gateway.workers == 2
    assert settings.gateway.max_head_bytes is None  # the server's own limit
    assert settings.mail.host is None
    assert settings.upload_dir == Path("var") / "uploads"


def test_sections_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_GATEWAY_WORKERS", "0")
    with pytest.raises(ValidationError, match="workers"):
        Settings(_env_file=None)
    monkeypatch.delenv("TINHSO_GATEWAY_WORKERS")
    monkeypatch.setenv("TINHSO_STORAGE_MAX_UPLOAD_BYTES", "10")
    with pytest.raises(ValidationError, match="max_upload_bytes"):
        Settings(_env_file=None)
    monkeypatch.delenv("TINHSO_STORAGE_MAX_UPLOAD_BYTES")
    monkeypatch.setenv("TINHSO_MAIL_HOST", "smtp.bacgiang.gov.vn")
    with pytest.raises(ValidationError, match="TINHSO_MAIL_SENDER"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_MAIL_SENDER", "not an address")
    with pytest.raises(ValidationError, match="sender"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_MAIL_SENDER", "tinhso@bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_MAIL_PASSWORD", "mat-khau-thu")
    with pytest.raises(ValidationError, match="TINHSO_MAIL_USER"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_MAIL_USER", "tinhso")
    monkeypatch.setenv("TINHSO_MAIL_PORT", "465")
    monkeypatch.setenv("TINHSO_MAIL_SECURITY", "tls")
    mail = Settings(_env_file=None).mail
    assert (mail.host, mail.port, mail.security, mail.user) == (
        "smtp.bacgiang.gov.vn",
        465,
        "tls",
        "tinhso",
    )


def test_production_refuses_a_mail_password_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_ENVIRONMENT", "production")
    monkeypatch.setenv("TINHSO_SECRET_KEY", "z" * 48)
    monkeypatch.setenv("TINHSO_DATABASE_URL", "postgresql://tinhso@db/tinhso")
    monkeypatch.setenv("TINHSO_MAIL_HOST", "smtp.bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_MAIL_SENDER", "tinhso@bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_MAIL_USER", "tinhso")
    monkeypatch.setenv("TINHSO_MAIL_PASSWORD", "mat-khau-thu")
    monkeypatch.setenv("TINHSO_MAIL_SECURITY", "none")
    with pytest.raises(ValidationError, match="TINHSO_MAIL_SECURITY"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_MAIL_SECURITY", "starttls")
    assert Settings(_env_file=None).mail.security == "starttls"


def test_every_section_is_displayed_with_its_secrets_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINHSO_MAIL_HOST", "smtp.bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_MAIL_SENDER", "tinhso@bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_MAIL_USER", "tinhso")
    monkeypatch.setenv("TINHSO_MAIL_PASSWORD", "mat-khau-thu")
    monkeypatch.setenv("TINHSO_DATABASE_URL", "postgresql://tinhso:mat-khau-csdl@db/tinhso")
    shown = dict(displayed_settings(Settings(_env_file=None)))
    assert {name.split(".")[0] for name in shown if "." in name} == {
        "gateway",
        "worker",
        "mail",
        "storage",
        "reports",
    }
    assert shown["mail.password"] == "**********"
    assert shown["secret_key"] == "**********"
    assert shown["mail.host"] == "smtp.bacgiang.gov.vn"
    assert shown["gateway.poll_seconds"] == "0.5"
    assert shown["database_url"] == "postgresql://tinhso:***@db/tinhso"
    everything = " ".join(f"{name}={value}" for name, value in shown.items())
    assert "mat-khau" not in everything
    assert DEV_SECRET_KEY not in everything


def test_the_s3_store_is_read_from_the_storage_section(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).storage.backend == "disk"
    monkeypatch.setenv("TINHSO_STORAGE_BACKEND", "s3")
    with pytest.raises(ValidationError, match="TINHSO_STORAGE_S3_BUCKET"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_STORAGE_S3_BUCKET", "Not_A_Bucket")
    with pytest.raises(ValidationError, match="s3_bucket"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_STORAGE_S3_BUCKET", "tinhso-opendata")
    monkeypatch.setenv("TINHSO_STORAGE_S3_SECRET_ACCESS_KEY", "khoa-bi-mat-s3")
    with pytest.raises(ValidationError, match="TINHSO_STORAGE_S3_ACCESS_KEY_ID"):
        Settings(_env_file=None)
    monkeypatch.setenv("TINHSO_STORAGE_S3_ACCESS_KEY_ID", "tinhso")
    monkeypatch.setenv("TINHSO_STORAGE_S3_ENDPOINT_URL", "https://s3.bacgiang.gov.vn")
    monkeypatch.setenv("TINHSO_STORAGE_S3_PATH_STYLE", "true")
    monkeypatch.setenv("TINHSO_STORAGE_S3_PREFIX", "tinhso/")
    storage = Settings(_env_file=None).storage
    assert (storage.backend, storage.s3_bucket, storage.s3_path_style, storage.s3_prefix) == (
        "s3",
        "tinhso-opendata",
        True,
        "tinhso/",
    )
    assert storage.s3_presigned_downloads is False  # downloads pass through the platform
    shown = dict(displayed_settings(Settings(_env_file=None)))
    assert shown["storage.s3_secret_access_key"] == "**********"
    assert shown["storage.s3_endpoint_url"] == "https://s3.bacgiang.gov.vn"
    assert "khoa-bi-mat" not in " ".join(shown.values())
