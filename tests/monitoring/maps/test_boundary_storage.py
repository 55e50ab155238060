"""How boundaries are stored, on both databases: each at two zoom levels (the whole
country's map draws the coarser one), with who uploaded it; a legacy set's units take
boundaries too; `tinhso monitoring boundaries load|synthetic` store them, and a refused
file leaves the stored ones as they were."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tinhso.cli import app
from tinhso.core.errors import InvalidInput
from tinhso.monitoring.maps.boundaries import load_upload
from tinhso.monitoring.models import UnitBoundary
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet, User

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

runner = CliRunner()


def _disc(code: str, lon: float, lat: float, radius: float = 0.2, points: int = 720) -> object:
    """A feature whose boundary is a finely drawn circle (many vertices to simplify away)."""
    ring = [
        [
            lon + radius * math.cos(2 * math.pi * i / points),
            lat + radius * math.sin(2 * math.pi * i / points),
        ]
        for i in range(points)
    ]
    ring.append(ring[0])
    return {
        "type": "Feature",
        "properties": {"ma": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _collection(*features: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _vertices(text: str) -> int:
    geometry = json.loads(text)
    rings = (
        geometry["coordinates"]
        if geometry["type"] == "Polygon"
        else [ring for polygon in geometry["coordinates"] for ring in polygon]
    )
    return sum(len(ring) for ring in rings)


def _boundaries(sessions: sessionmaker[Session], unit_set: UnitSet) -> dict[str, UnitBoundary]:
    with sessions() as session:
        rows = session.execute(
            select(AdministrativeUnit.code, UnitBoundary)
            .join(AdministrativeUnit, AdministrativeUnit.id == UnitBoundary.unit_id)
            .where(AdministrativeUnit.unit_set == unit_set)
        ).all()
        session.expunge_all()
    return {code: boundary for code, boundary in rows}  # noqa: C416 - rows are Row tuples


def test_an_upload_is_stored_at_two_zoom_levels_with_its_uploader(
    sessions: sessionmaker[Session], make_official: MakeOfficial
) -> None:
    make_official(platform_admin=True, username="nap-ranh-gioi")
    with sessions.begin() as session:
        uploader = session.scalars(select(User.id).where(User.username == "nap-ranh-gioi")).one()
        stored = load_upload(
            session,
            _collection(_disc("24", 106.2, 21.2), _disc("01", 105.8, 21.0)),
            "hai-tinh.geojson",
            UnitLevel.PROVINCE,
            None,
            uploaded_by_id=uploader,
        )
    assert stored.stored == 2
    found = _boundaries(sessions, UnitSet.CURRENT)
    assert set(found) == {"24", "01"}
    bac_ninh = found["24"]
    assert bac_ninh.synthetic is False and bac_ninh.source == "hai-tinh.geojson"
    assert bac_ninh.uploaded_by_id == uploader
    assert bac_ninh.geometry_overview is not None
    fine, coarse = _vertices(bac_ninh.geometry), _vertices(bac_ninh.geometry_overview)
    assert 10 <= coarse < fine <= 721  # the overview is coarser, yet still a shape
    assert bac_ninh.min_lon == pytest.approx(106.0, abs=1e-3)
    assert bac_ninh.max_lat == pytest.approx(21.4, abs=1e-3)


def test_legacy_units_take_boundaries_and_a_refused_file_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:  # legacy Bắc Giang (24) and Bắc Ninh (27), before 2025
        load_upload(
            session,
            _collection(_disc("24", 106.4, 21.4), _disc("27", 106.1, 21.1)),
            "tinh-cu.geojson",
            UnitLevel.PROVINCE,
            None,
            unit_set=UnitSet.LEGACY,
        )
    legacy = _boundaries(sessions, UnitSet.LEGACY)
    assert set(legacy) == {"24", "27"}
    assert _boundaries(sessions, UnitSet.CURRENT) == {}
    before = {code: (b.geometry, b.source) for code, b in legacy.items()}
    broken = _collection(
        _disc("24", 106.4, 21.4, radius=0.1),
        {"type": "Feature", "properties": {"ma": "27"}, "geometry": {"type": "LineString"}},
    )
    with pytest.raises(InvalidInput) as refused, sessions.begin() as session:
        load_upload(
            session, broken, "hong.geojson", UnitLevel.PROVINCE, None, unit_set=UnitSet.LEGACY
        )
    assert [e.field for e in refused.value.errors] == ["features[1].geometry"]
    after = _boundaries(sessions, UnitSet.LEGACY)
    assert {code: (b.geometry, b.source) for code, b in after.items()} == before
    with pytest.raises(InvalidInput) as no_level, sessions.begin() as session:
        load_upload(session, broken, "x.geojson", UnitLevel.DISTRICT, None)
    assert no_level.value.errors[0].field == "level"  # the current set has no districts


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    monkeypatch.setenv("TINHSO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TINHSO_SECRET_KEY", "cli-test-secret-that-must-not-be-printed")


@pytest.mark.usefixtures("operator_env")
def test_the_commands_load_a_file_and_synthetic_cells(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    good = tmp_path / "bac-ninh.geojson"
    good.write_bytes(_collection(_disc("24", 106.2, 21.2)))
    loaded = runner.invoke(app, ["monitoring", "boundaries", "load", str(good)])
    assert loaded.exit_code == 0, loaded.output
    assert "stored=1" in loaded.output and "Thiếu ranh giới" in loaded.output
    broken = tmp_path / "hong.geojson"
    broken.write_bytes(b'{"type": "FeatureCollection", "features": [{"properties": {"ma": "24"}')
    refused = runner.invoke(app, ["monitoring", "boundaries", "load", str(broken)])
    assert refused.exit_code != 0
    assert "JSON" in refused.output
    assert _boundaries(sessions, UnitSet.CURRENT)["24"].source == "bac-ninh.geojson"
    wrong = runner.invoke(app, ["monitoring", "boundaries", "load", str(good), "--unit-set", "old"])
    assert wrong.exit_code == 2
    synthetic = runner.invoke(app, ["monitoring", "boundaries", "synthetic", "24"])
    assert synthetic.exit_code == 0, synthetic.output
    found = _boundaries(sessions, UnitSet.CURRENT)
    assert found["24"].synthetic is False  # the uploaded one stays
    assert found["01"].synthetic is True and found["01"].source == "synthetic"
    assert found["01"].geometry_overview is not None
    assert sum(1 for b in found.values() if b.synthetic) > 34 + 50 - 1
