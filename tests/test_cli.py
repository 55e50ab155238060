"""The `tinhso` command, run as an operator would (real database, real settings)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tinhso.cli import app
from tinhso.core.storage import DiskStore
from tinhso.opendata.catalogue.storage import AREA, store
from tinhso.registry.models import InformationSystem, Organisation, User

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tests.support.s3 import S3Server

runner = CliRunner()


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", "cli-test-secret-that-must-not-be-printed")
    monkeypatch.delenv("TINHSO_ADMIN_PASSWORD", raising=False)


def test_db_check_passes_on_the_migrated_database(operator_env: None) -> None:
    result = runner.invoke(app, ["db", "check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_db_upgrade_builds_a_fresh_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert runner.invoke(app, ["db", "check"]).exit_code == 1
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["db", "check"])
    assert result.exit_code == 0, result.output


def test_units_import_reports_counts(operator_env: None) -> None:
    result = runner.invoke(app, ["units", "import"])
    assert result.exit_code == 0, result.output
    assert "current=3,355" in result.output  # 34 provinces + 3,321 communes
    assert "legacy=10,794" in result.output  # 63 + 696 + 10,035
    assert "inserted=0" in result.output  # already loaded: the import is idempotent


def test_create_admin(operator_env: None, session: Session) -> None:
    result = runner.invoke(
        app,
        ["create-admin", "quantri", "--full-name", "Quản trị viên Sở"],
        env={"TINHSO_ADMIN_PASSWORD": "mot-mat-khau-rat-dai"},
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "quantri"))
    assert user is not None
    assert user.is_platform_admin
    again = runner.invoke(
        app, ["create-admin", "quantri"], env={"TINHSO_ADMIN_PASSWORD": "mot-mat-khau-rat-dai"}
    )
    assert again.exit_code == 1
    assert "đã tồn tại" in again.output
    assert "already exists" in again.output


def test_create_admin_names_the_bad_field(operator_env: None) -> None:
    result = runner.invoke(app, ["create-admin", "quantri2"], env={"TINHSO_ADMIN_PASSWORD": "ngan"})
    assert result.exit_code == 2
    assert "password" in result.output


def test_config_check_never_prints_secrets(operator_env: None) -> None:
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "cli-test-secret" not in result.output
    assert "secret_key = **********" in result.output
    assert "gateway.workers = 2" in result.output  # every section is shown
    assert "mail.password = None" in result.output
    assert "database migrated: True" in result.output


def test_config_check_refuses_insecure_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINHSO_ENVIRONMENT", "production")
    monkeypatch.delenv("TINHSO_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "TINHSO_SECRET_KEY" in result.output


def test_demo_loads_and_is_idempotent(operator_env: None, session: Session, tmp_path: Path) -> None:
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert password in first.output
    organisations = session.scalars(select(Organisation.code)).all()
    assert "ubnd-bac-giang" in organisations
    assert (
        session.scalar(select(InformationSystem).where(InformationSystem.code == "lgsp"))
        is not None
    )
    second = runner.invoke(app, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    session.expire_all()
    assert sorted(session.scalars(select(Organisation.code)).all()) == sorted(organisations)


def test_config_check_hides_credentials_in_urls(
    operator_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINHSO_REDIS_URL", "redis://:mat-khau-redis@127.0.0.1:6379/0")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "mat-khau-redis" not in result.output
    assert "redis_url = redis://:***@127.0.0.1:6379/0" in result.output
    assert "api_token_minutes = 60" in result.output  # not a secret, shown as is
    assert "metrics_token = None" in result.output  # unset, and never a value


def _s3_env(monkeypatch: pytest.MonkeyPatch, s3: S3Server, bucket: str) -> None:
    monkeypatch.setenv("TINHSO_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("TINHSO_STORAGE_S3_ENDPOINT_URL", s3.endpoint_url)
    monkeypatch.setenv("TINHSO_STORAGE_S3_BUCKET", bucket)
    monkeypatch.setenv("TINHSO_STORAGE_S3_REGION", "ap-southeast-1")
    monkeypatch.setenv("TINHSO_STORAGE_S3_ACCESS_KEY_ID", "tinhso-test")
    monkeypatch.setenv("TINHSO_STORAGE_S3_SECRET_ACCESS_KEY", "khoa-s3-khong-duoc-in-ra")
    monkeypatch.setenv("TINHSO_STORAGE_S3_PATH_STYLE", "true")


def test_config_check_shows_the_s3_store_without_its_secret_and_reaches_the_bucket(
    operator_env: None, monkeypatch: pytest.MonkeyPatch, s3: S3Server
) -> None:
    _s3_env(monkeypatch, s3, s3.new_bucket())
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "khoa-s3" not in result.output
    assert "storage.backend = s3" in result.output
    assert "storage.s3_secret_access_key = **********" in result.output
    assert "storage.s3_access_key_id = tinhso-test" in result.output
    assert "storage.s3_path_style = True" in result.output
    assert "storage reachable: s3" in result.output


def test_a_bucket_that_cannot_be_reached_stops_config_check_serve_and_the_worker(
    operator_env: None, monkeypatch: pytest.MonkeyPatch, s3: S3Server
) -> None:
    _s3_env(monkeypatch, s3, "tinhso-chua-tao-bucket")
    for command in (["config", "check"], ["serve"], ["worker", "--once"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert "tinhso-chua-tao-bucket" in result.output
        assert "TINHSO_STORAGE_S3_" in result.output
        assert "khoa-s3" not in result.output
    monkeypatch.delenv("TINHSO_STORAGE_S3_BUCKET")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "TINHSO_STORAGE_S3_BUCKET" in result.output


def test_storage_gc_lists_then_deletes_only_old_files_no_resource_refers_to(
    operator_env: None, tmp_path: Path
) -> None:
    files = DiskStore(tmp_path, AREA)
    old = store(files, "r-1", "cu.csv", b"a\r\n1\r\n")
    fresh = store(files, "r-2", "moi.csv", b"a\r\n2\r\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / old.key, (two_days_ago, two_days_ago))
    listed = runner.invoke(app, ["opendata", "storage", "gc", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert old.key in listed.output
    assert fresh.key not in listed.output
    assert files.exists(old.key)
    deleted = runner.invoke(app, ["opendata", "storage", "gc"])
    assert deleted.exit_code == 0, deleted.output
    assert old.key in deleted.output
    assert not files.exists(old.key)
    assert files.exists(fresh.key)
