"""Who may write a unit is worked out once per request or batch: a 500-value batch or
import sends as many queries as a 5-value one, with the same rules and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from tests.monitoring.support import API, create_fibre_catalogue
from tests.registry.queries import counted_queries
from tinhso.core.errors import Forbidden
from tinhso.monitoring.auth import value_writer
from tinhso.monitoring.models import DataValue, DataValueCorrection
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import Principal, principal_of
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

ELEMENTS = ("households", "e1", "e2", "e3", "e4")
YEARS = tuple(str(year) for year in range(2015, 2025))


@pytest.fixture
def catalogue(client: TestClient, admin: Official, province_tree: dict[str, str]) -> None:
    extra = tuple({"code": code, "value_type": "integer", "min_value": 0} for code in ELEMENTS[1:])
    create_fibre_catalogue(client, admin, extra_elements=extra)


def _viet_yen_units(session: Session, count: int) -> list[str]:
    """Việt Yên (legacy district 222) and its communes, ``count`` of them."""
    district = unit_service.get(session, UnitSet.LEGACY, "222")
    codes = [node.code for node in unit_service.subtree(session, district.id)]
    assert len(codes) >= count
    return codes[:count]


def _batch(units: list[str], elements: tuple[str, ...], years: tuple[str, ...]) -> list[Any]:
    return [
        {
            "element_code": element,
            "unit": {"unit_set": "legacy", "code": unit},
            "period": year,
            "value": 10,
        }
        for unit in units
        for element in elements
        for year in years
    ]


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DataValue)) or 0)


def test_batch_queries_do_not_grow_with_the_batch(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    session: Session,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    units = _viet_yen_units(session, 10)
    small = _batch(units[:1], ELEMENTS, YEARS[:1])  # 5 values
    large = _batch(units, ELEMENTS, YEARS)  # 500 values
    assert (len(small), len(large)) == (5, 500)

    with counted_queries(engine) as few:
        response = client.post(
            f"{API}/values/batch", headers=officer.headers, json={"values": small}
        )
    assert response.status_code == 200, response.text
    with counted_queries(engine) as many:
        response = client.post(
            f"{API}/values/batch", headers=officer.headers, json={"values": large}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 495, "corrected": 0, "unchanged": 5}
    assert _count(sessions) == 500
    # the same statements for 500 values as for 5 (the old check sent several per value)
    assert many.count == few.count, many.statements
    assert len(many.touching("administrative_unit")) <= 3

    # correcting them all: one correction record each, still the same statements as for 5
    for value in small + large:
        value["value"] = 12
    with counted_queries(engine) as few:
        response = client.post(
            f"{API}/values/batch", headers=officer.headers, json={"values": small}
        )
    assert response.json() == {"inserted": 0, "corrected": 5, "unchanged": 0}
    with counted_queries(engine) as many:
        response = client.post(
            f"{API}/values/batch", headers=officer.headers, json={"values": large}
        )
    assert response.json() == {"inserted": 0, "corrected": 495, "unchanged": 5}
    assert many.count == few.count, many.statements
    with sessions() as check:
        versions = check.scalars(select(DataValue.version)).all()
        corrections = check.scalar(select(func.count()).select_from(DataValueCorrection))
    assert sorted(set(versions)) == [2] and corrections == 500


def test_a_forbidden_unit_in_a_large_batch_refuses_it_all(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    session: Session,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    values = _batch(_viet_yen_units(session, 10), ELEMENTS, YEARS)
    values[-1]["unit"]["code"] = "07201"  # a ward of TP Bắc Giang, another district
    with counted_queries(engine) as queries:
        response = client.post(
            f"{API}/values/batch", headers=officer.headers, json={"values": values}
        )
    assert response.status_code == 403, response.text
    body = response.json()
    assert [error["field"] for error in body["errors"]] == ["values.499.unit"]
    assert "07201 (legacy)" in body["message"]["vi"]
    assert "07201 (legacy)" in body["message"]["en"]
    assert _count(sessions) == 0
    assert len(queries.touching("administrative_unit")) <= 3


def _principal(session: Session, username: str) -> Principal:
    return principal_of(session, account_service.get(session, username))


def test_writer_checks_each_unit_without_a_query(
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    session: Session,
    engine: Engine,
) -> None:
    officer = _principal(session, make_official(Role.OFFICER, "ubnd-viet-yen").username)
    viet_yen = unit_service.get(session, UnitSet.LEGACY, "222")
    below = [node.id for node in unit_service.subtree(session, viet_yen.id)]
    ward = unit_service.get(session, UnitSet.LEGACY, "07201").id
    province = unit_service.get(session, UnitSet.LEGACY, "24").id
    writer = value_writer(session, officer)
    writer(below[0], "222 (legacy)", "unit")  # works the units out
    with counted_queries(engine) as queries:
        for unit_id in below:
            writer(unit_id, "x", "unit")
        for unit_id in (ward, province):
            with pytest.raises(Forbidden) as refused:
                writer(unit_id, "07201 (legacy)", "values.3.unit")
            assert refused.value.errors[0].field == "values.3.unit"
    assert queries.count == 0
    assert writer.units() == frozenset(below)


def test_writer_rules(
    province_tree: dict[str, str], make_official: MakeOfficial, session: Session
) -> None:
    ward = unit_service.get(session, UnitSet.LEGACY, "07201").id
    commune = unit_service.get(session, UnitSet.LEGACY, "07759").id
    current = unit_service.get(session, UnitSet.CURRENT, "24").id
    cases = {
        # the province committee's admin: every organisation below it, so all of Bắc Giang
        (Role.ORGANISATION_ADMIN, "ubnd-tinh"): {ward: True, commune: True, current: False},
        # a department has no unit: it acts for the province committee's
        (Role.OFFICER, "so-tttt"): {ward: True, commune: True, current: False},
        (Role.OFFICER, "ubnd-viet-yen"): {ward: False, commune: True, current: False},
        (Role.VIEWER, "ubnd-tinh"): {ward: False, commune: False, current: False},
        (Role.ORGANISATION_ADMIN, "ubnd-khac"): {ward: False, commune: False, current: False},
    }
    for (role, organisation), expected in cases.items():
        principal = _principal(session, make_official(role, organisation).username)
        writer = value_writer(session, principal)
        assert {unit: writer.allows(unit) for unit in expected} == expected, (role, organisation)
    admin = _principal(session, make_official(platform_admin=True).username)
    assert all(value_writer(session, admin).allows(unit) for unit in (ward, commune, current))
