"""Settings: environment prefix, and no development default survives into production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tinhso.core.config import DEV_SECRET_KEY, Settings


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
