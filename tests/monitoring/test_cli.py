"""`tinhso monitoring ...` run as an operator would (real database, real settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest
from typer.testing import CliRunner

from tests.monitoring.support import element, indicator, values
from tinhso.cli import app
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import PlanCreate, TargetCreate

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

runner = CliRunner()


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", "cli-test-secret-that-must-not-be-printed")


@pytest.fixture
def plan(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        element(session, "fibre_pct", value_type="percentage", aggregation="none")
        indicator(session, "fibre", "fibre_pct")
        row = plan_service.create(
            session,
            PlanCreate(
                code="kh-324",
                number="324/KH-UBND",
                title_vi="Kế hoạch chuyển đổi số",
                issuing_body="UBND tỉnh Bắc Giang",
            ),
        )
        plan_service.add_target(
            session,
            row,
            TargetCreate.model_validate(
                {
                    "indicator_code": "fibre",
                    "year": 2025,
                    "target_value": 80,
                    "scope_unit": {"unit_set": "legacy", "code": "24"},
                }
            ),
        )
        values(session, [("fibre_pct", "legacy", "24", "2024", 85.5)])


def test_progress(operator_env: None, plan: None) -> None:
    result = runner.invoke(app, ["monitoring", "progress", "kh-324", "--as-of", "2024"])
    assert result.exit_code == 0, result.output
    assert "324/KH-UBND" in result.output
    assert "85,5" in result.output  # Vietnamese decimal comma
    assert "Đạt" in result.output
    missing = runner.invoke(app, ["monitoring", "progress", "khong-co"])
    assert missing.exit_code == 1
    assert "khong-co" in missing.output


def test_snapshot_to_duckdb(operator_env: None, plan: None, tmp_path: Path) -> None:
    target = tmp_path / "analytics.duckdb"
    result = runner.invoke(app, ["monitoring", "snapshot", str(target)])
    assert result.exit_code == 0, result.output
    assert "data_value=1" in result.output
    with duckdb.connect(str(target)) as duck:
        assert duck.execute("SELECT value FROM data_value").fetchall() == [(85.5,)]


def test_recompute_on_the_duckdb_copy(operator_env: None, plan: None, tmp_path: Path) -> None:
    target = tmp_path / "analytics.duckdb"
    missing = runner.invoke(app, ["monitoring", "recompute", str(target)])
    assert missing.exit_code == 1
    assert runner.invoke(app, ["monitoring", "snapshot", str(target)]).exit_code == 0
    result = runner.invoke(
        app, ["monitoring", "recompute", str(target), "--tree", "legacy", "--level", "province"]
    )
    assert result.exit_code == 0, result.output
    assert "indicator_value=1" in result.output
    with duckdb.connect(str(target)) as duck:
        rows = duck.execute(
            "SELECT v.period, v.value, v.basis FROM indicator_value v"
            " JOIN administrative_unit u ON u.id = v.unit_id WHERE u.code = '24'"
        ).fetchall()
    assert rows == [("2024", 85.5, 0)]
