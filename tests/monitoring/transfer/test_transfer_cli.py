"""`tinhso monitoring data ...`: template, import (with the official's rights), export and
DHIS2 round trip from the command line, on both databases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.monitoring.transfer.test_transfer import catalogue, xlsx
from tinhso.cli import app
from tinhso.monitoring.models import DataValue, DataValueCorrection
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

__all__ = ["catalogue"]  # the fixture, shared with the file import tests

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_ENVIRONMENT", "test")
    monkeypatch.setenv("TINHSO_LOG_LEVEL", "WARNING")


def count(sessions: sessionmaker[Session], model: type[DataValue | DataValueCorrection]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_template_import_export_and_dhis2_from_the_command_line(
    cli_env: None,
    catalogue: None,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    template = tmp_path / "mau.xlsx"
    result = runner.invoke(app, ["monitoring", "data", "template", str(template)])
    assert result.exit_code == 0, result.output
    assert load_workbook(template).sheetnames[0] == "Số liệu"

    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    source = tmp_path / "viet-yen.xlsx"
    source.write_bytes(
        xlsx(
            [
                ["households", "07759", "cũ", "2024", "1.380", None],
                ["households", "07201", "cũ", "2024", "10", None],  # not Việt Yên's
            ]
        )
    )
    refused = runner.invoke(
        app, ["monitoring", "data", "import", str(source), "--as", officer.username]
    )
    assert refused.exit_code == 1
    assert "07201" in refused.output
    assert count(sessions, DataValue) == 0

    source.write_bytes(xlsx([["households", "07759", "cũ", "2024", "1.380", None]]))
    done = runner.invoke(
        app, ["monitoring", "data", "import", str(source), "--as", officer.username]
    )
    assert done.exit_code == 0, done.output
    assert "inserted=1" in done.output

    exported = tmp_path / "so-lieu.csv"
    result = runner.invoke(app, ["monitoring", "data", "export", str(exported), "--year", "2024"])
    assert result.exit_code == 0, result.output
    assert "households,07759,cũ,2024,1380," in exported.read_text(encoding="utf-8-sig")

    document = tmp_path / "dhis2.json"
    result = runner.invoke(
        app, ["monitoring", "data", "dhis2-export", str(document), "--unit-set", "legacy"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(document.read_text(encoding="utf-8"))
    assert body["dataValues"][0]["value"] == "1380"
    body["dataValues"][0]["value"] = "1400"
    document.write_text(json.dumps(body), encoding="utf-8")
    result = runner.invoke(
        app, ["monitoring", "data", "dhis2-import", str(document), "--as", admin.username]
    )
    assert result.exit_code == 0, result.output
    assert "updated=1" in result.output
    assert count(sessions, DataValueCorrection) == 1
