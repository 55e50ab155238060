"""Administrative units: import and both-way queries over the 01/07/2025 reorganisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, text

from tinhso.core import migrations
from tinhso.core.db import build_engine
from tinhso.core.text import fold
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet, UnitSuccession
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session


def _count(session: Session, unit_set: UnitSet, level: UnitLevel) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                AdministrativeUnit.unit_set == unit_set, AdministrativeUnit.level == level
            )
        )
        or 0
    )


def test_catalogue_import_loads_both_sets_and_is_idempotent(session: Session) -> None:
    assert _count(session, UnitSet.CURRENT, UnitLevel.PROVINCE) == 34
    assert _count(session, UnitSet.CURRENT, UnitLevel.COMMUNE) == 3321
    assert _count(session, UnitSet.LEGACY, UnitLevel.PROVINCE) == 63
    assert _count(session, UnitSet.LEGACY, UnitLevel.DISTRICT) == 696
    assert _count(session, UnitSet.LEGACY, UnitLevel.COMMUNE) == 10035
    successions = session.scalar(select(func.count()).select_from(UnitSuccession))

    result = unit_service.import_catalogue(session)
    session.rollback()

    assert (result.inserted, result.updated) == (0, 0)
    assert result.current_units == 34 + 3321
    assert session.scalar(select(func.count()).select_from(UnitSuccession)) == successions


def test_bac_giang_commune_became_part_of_bac_ninh(session: Session) -> None:
    # Legacy 07777 Phường Bích Động (Thị xã Việt Yên, Bắc Giang) → current 07777 Phường Việt Yên (Bắc Ninh).
    [(legacy, current, partial)] = unit_service.successors(session, "07777")
    assert legacy.name == "Phường Bích Động"
    assert current.name == "Phường Việt Yên"
    assert not partial
    province = session.get(AdministrativeUnit, current.parent_id)
    assert province is not None
    assert (province.code, province.name) == ("24", "Tỉnh Bắc Ninh")
    legacy_district = session.get(AdministrativeUnit, legacy.parent_id)
    assert legacy_district is not None
    legacy_province = session.get(AdministrativeUnit, legacy_district.parent_id)
    assert legacy_province is not None
    assert legacy_province.name == "Tỉnh Bắc Giang"


def test_predecessors_of_a_current_commune(session: Session) -> None:
    names = sorted(old.name for old, _new, _partial in unit_service.predecessors(session, "07777"))
    assert names == ["Phường Bích Động", "Phường Hồng Thái", "Xã Minh Đức", "Xã Nghĩa Trung"]


def test_split_commune_maps_to_several_current_communes(client: TestClient) -> None:
    response = client.get("/api/v1/units/legacy/31183/successors")
    assert response.status_code == 200
    successors = {row["current"]["code"]: row["partial"] for row in response.json()}
    assert successors == {"31183": True, "31150": True}


def test_units_api_filters_and_paginates(client: TestClient) -> None:
    response = client.get(
        "/api/v1/units", params={"set": "current", "level": "province", "limit": 10}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 34
    assert len(body["items"]) == 10
    communes = client.get("/api/v1/units", params={"set": "current", "parent": "24", "limit": 200})
    assert communes.json()["total"] == 99
    assert all(item["parent_code"] == "24" for item in communes.json()["items"])


def test_page_size_has_a_hard_maximum(client: TestClient) -> None:
    response = client.get("/api/v1/units", params={"limit": 5000})
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "limit"
    assert problem["message"]["vi"].startswith("Kích thước trang tối đa")


def test_unknown_unit_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/units/legacy/99999/successors")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("typed", ["bich dong", "BÍCH ĐỘNG", "Bích  Động", "bích đ"])
def test_unit_search_folds_diacritics_and_d_on_both_sides(client: TestClient, typed: str) -> None:
    response = client.get("/api/v1/units", params={"set": "legacy", "q": typed, "limit": 50})
    assert response.status_code == 200
    names = {item["name"] for item in response.json()["items"]}
    assert "Phường Bích Động" in names
    assert all(fold(typed) in fold(name) for name in names)


def test_unit_search_treats_like_wildcards_as_text(client: TestClient) -> None:
    for typed in ("%", "_", "bich%dong"):
        response = client.get("/api/v1/units", params={"set": "legacy", "q": typed})
        assert response.status_code == 200
        assert response.json()["total"] == 0, typed


def test_every_unit_has_its_folded_name(session: Session) -> None:
    rows = session.execute(
        select(AdministrativeUnit.name, AdministrativeUnit.search_name).limit(20_000)
    ).all()
    assert len(rows) > 10_000
    assert [name for name, folded in rows if folded != fold(name)] == []


def test_the_migration_folds_the_names_of_units_already_stored(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'before-0020.sqlite3'}")
    try:
        migrations.upgrade(engine, "0019")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO administrative_unit (unit_set, code, name, kind, level) "
                    "VALUES ('legacy', '07777', 'Phường Bích Động', 'Phường', 'commune')"
                )
            )
        migrations.upgrade(engine)
        with engine.connect() as connection:
            folded = connection.scalar(text("SELECT search_name FROM administrative_unit"))
        assert folded == "phuong bich dong"
    finally:
        engine.dispose()
