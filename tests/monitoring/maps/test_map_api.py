"""The map's answer against plan targets, on both databases: each commune of Bắc Ninh with
its value, the target that applies to it (one naming the unit before one for its level),
% of that target and its status as plan progress says it (đạt / đúng tiến độ / chậm tiến
độ / không đạt); a commune whose boundary is gone is a point at its centroid; the
statements sent stay as many however many communes have values, targets or points."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, select

from tests.portal.monitoring.support import load_demo
from tests.portal.test_pages import log_in
from tests.registry.queries import counted_queries
from tinhso.monitoring.maps.boundaries import unit_map
from tinhso.monitoring.models import UnitBoundary
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import (
    ElementCreate,
    IndicatorCreate,
    PlanCreate,
    TargetCreate,
    ValueIn,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.rendering import LANGUAGE_COOKIE
from tinhso.registry.models import AdministrativeUnit, UnitSet

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.registry.queries import QueryBudget

# Communes of Bắc Ninh since 01/07/2025.
VIET_YEN, DA_MAI, YEN_DUNG, TAN_AN, TAN_TIEN = "07777", "07228", "07681", "07682", "07699"
ELEMENT, INDICATOR = "ban_do_pct", "ban_do"


def _values(sessions: sessionmaker[Session], rows: list[tuple[str, str, float]]) -> None:
    items = [
        ValueIn.model_validate(
            {
                "element_code": ELEMENT,
                "unit": {"unit_set": "current", "code": code},
                "period": period,
                "value": value,
            }
        )
        for code, period, value in rows
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))


def _target(session: Session, plan: Any, **fields: Any) -> None:
    plan_service.add_target(
        session, plan, TargetCreate.model_validate({"indicator_code": INDICATOR, **fields})
    )


@pytest.fixture
def mapped(sessions: sessionmaker[Session]) -> None:
    """The demo's boundaries; an indicator with a target for every commune of Bắc Ninh in
    2026 (≥ 60 from 40 in 2024) and one for Việt Yên alone in 2025 (≥ 70)."""
    load_demo(sessions)
    with sessions.begin() as session:
        catalogue_service.create_element(
            session,
            ElementCreate.model_validate(
                {
                    "code": ELEMENT,
                    "name_vi": "Hộ có cáp quang",
                    "unit_of_measure": "%",
                    "value_type": "percentage",
                    "aggregation": "none",
                    "period_type": "year",
                }
            ),
        )
        catalogue_service.create_indicator(
            session,
            IndicatorCreate(
                code=INDICATOR,
                name_vi="Tỷ lệ hộ có cáp quang",
                formula=ELEMENT,
                unit_of_measure="%",
                pillar_code="digital_government",
            ),
        )
        plan = plan_service.create(
            session,
            PlanCreate(
                code="kh-ban-do",
                number="1/KH-BD",
                title_vi="Kế hoạch bản đồ",
                issuing_body="UBND tỉnh Bắc Ninh",
            ),
        )
        _target(
            session,
            plan,
            scope_unit={"unit_set": "current", "code": "24"},
            scope_level="commune",
            year=2026,
            comparison=">=",
            target_value=60,
            baseline_value=40,
            baseline_year=2024,
        )
        _target(
            session,
            plan,
            scope_unit={"unit_set": "current", "code": VIET_YEN},
            year=2025,
            comparison=">=",
            target_value=70,
        )
    _values(
        sessions,
        [
            (VIET_YEN, "2025", 66),
            (DA_MAI, "2025", 61),
            (YEN_DUNG, "2025", 55),
            (TAN_AN, "2025", 45),
        ],
    )


def _map(client: TestClient, headers: dict[str, str], period: str) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/monitoring/map?indicator={INDICATOR}&period={period}&parent=24",
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.usefixtures("mapped")
def test_each_commune_shows_its_target_percent_and_status(
    client: TestClient, make_official: MakeOfficial
) -> None:
    viewer = make_official(username="xem-chi-tieu")
    found = _map(client, viewer.headers, "2025")
    assert found["with_target"] is True
    by_code = {f["id"]: f["properties"] for f in found["features"]}
    viet_yen = by_code[VIET_YEN]  # its own target (≥ 70) wins over the communes' (≥ 60)
    assert (viet_yen["value"], viet_yen["target"], viet_yen["target_year"]) == (66, 70, 2025)
    # the target year reached, the target missed
    assert viet_yen["percent"] == pytest.approx(66 / 70 * 100)
    assert (viet_yen["status"], viet_yen["status_vi"]) == ("not_achieved", "Không đạt")
    da_mai = by_code[DA_MAI]
    assert (da_mai["target"], da_mai["status"], da_mai["status_en"]) == (60, "achieved", "Achieved")
    assert da_mai["percent"] == pytest.approx(61 / 60 * 100)
    empty = by_code[TAN_TIEN]  # a target, no value for the period
    assert (empty["value"], empty["target"], empty["percent"], empty["status"]) == (
        None,
        60,
        None,
        "no_data",
    )
    # 2025 on the straight line from 40 (2024) to 60 (2026): 50 expected.
    assert (by_code[YEN_DUNG]["status"], by_code[YEN_DUNG]["status_vi"]) == (
        "on_track",
        "Đúng tiến độ",
    )
    assert (by_code[TAN_AN]["status"], by_code[TAN_AN]["status_vi"]) == ("behind", "Chậm tiến độ")
    assert by_code[TAN_AN]["target_year"] == 2026
    later = {f["id"]: f["properties"] for f in _map(client, viewer.headers, "2026")["features"]}
    # Việt Yên's own target was for 2025: in 2026 the communes' applies; no 2026 value yet.
    assert (later[VIET_YEN]["target"], later[VIET_YEN]["status"]) == (60, "no_data")
    later = _map(client, viewer.headers, "2027")  # no target for 2027 or later
    assert later["with_target"] is False
    assert all(f["properties"]["status"] is None for f in later["features"])
    provinces = client.get(
        f"/api/v1/monitoring/map?indicator={INDICATOR}&period=2025", headers=viewer.headers
    ).json()
    assert provinces["with_target"] is False  # the targets are the communes'


@pytest.mark.usefixtures("mapped")
def test_a_commune_without_a_boundary_is_a_point_at_its_centroid(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    viewer = make_official(username="xem-diem")
    # drawn (and kept, core.generations) with its polygon first; the deletion is seen at once
    shown = {f["id"]: f for f in _map(client, viewer.headers, "2025")["features"]}
    assert shown[DA_MAI]["properties"]["boundary"] == "polygon"
    with sessions.begin() as session:
        unit_id = session.scalars(
            select(AdministrativeUnit.id).where(
                AdministrativeUnit.unit_set == UnitSet.CURRENT, AdministrativeUnit.code == DA_MAI
            )
        ).one()
        session.execute(delete(UnitBoundary).where(UnitBoundary.unit_id == unit_id))
    found = _map(client, viewer.headers, "2025")
    assert found["without_boundary"] == ["Phường Đa Mai"]
    by_code = {f["id"]: f for f in found["features"]}
    point = by_code[DA_MAI]
    assert point["geometry"]["type"] == "Point"
    lon, lat = point["geometry"]["coordinates"]
    assert 105.5 < lon < 107.5 and 20.5 < lat < 22
    assert point["properties"]["boundary"] == "point"
    assert point["properties"]["status"] == "achieved"  # still coloured by its status
    assert by_code[VIET_YEN]["properties"]["boundary"] == "polygon"
    assert by_code[VIET_YEN]["geometry"]["type"] in {"Polygon", "MultiPolygon"}


@pytest.mark.usefixtures("mapped")
def test_the_map_sends_as_many_statements_for_many_communes_as_for_few(
    client: TestClient,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    viewer = make_official(username="dem-truy-van")

    def fetch() -> None:
        _map(client, viewer.headers, "2025")

    def grow() -> None:
        with sessions.begin() as session:
            ids = session.execute(
                select(AdministrativeUnit.code, AdministrativeUnit.id).where(
                    AdministrativeUnit.unit_set == UnitSet.CURRENT,
                    AdministrativeUnit.code.in_([YEN_DUNG, TAN_AN, TAN_TIEN, "07210", "07696"]),
                )
            ).all()
            session.execute(  # more points
                delete(UnitBoundary).where(UnitBoundary.unit_id.in_([i for _c, i in ids]))
            )
            plan = plan_service.get(session, "kh-ban-do")
            for code in ("07210", "07696"):  # more targets of their own
                _target(
                    session,
                    plan,
                    scope_unit={"unit_set": "current", "code": code},
                    year=2026,
                    target_value=80,
                )
        _values(  # more values
            sessions, [(code, "2025", 50 + n) for n, (code, _i) in enumerate(ids)]
        )

    before, after = query_budget.flat(fetch, grow, budget=24)
    assert 0 < before == after, (before, after)


@pytest.mark.usefixtures("mapped")
def test_the_page_colours_by_target_in_both_languages_and_refuses_nothing_with_a_500(
    client: TestClient, make_official: MakeOfficial
) -> None:
    viewer = make_official(username="xem-trang-ban-do")
    log_in(client, viewer.username)
    page = client.get(f"/monitoring/map?indicator={INDICATOR}&period=2025&parent=24&mode=target")
    assert page.status_code == 200, page.text
    assert "Tô màu theo" in page.text and "% chỉ tiêu" in page.text
    assert "Đúng tiến độ" in page.text and "Chậm tiến độ" in page.text
    assert '"mode": "target"' in page.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    english = client.get(f"/monitoring/map?indicator={INDICATOR}&period=2025&parent=24&mode=target")
    assert english.status_code == 200
    assert "Colour by" in english.text and "% of target" in english.text
    assert "On track" in english.text and "Behind schedule" in english.text
    for query in (
        "mode=%00",
        "mode=x&parent=99999",
        f"indicator={INDICATOR}&period=2025&parent={VIET_YEN}&mode=target",
        f"indicator={INDICATOR}&period=2099-13&mode=target",
        "indicator=khong-co&period=abc",
    ):
        answer = client.get(f"/monitoring/map?{query}")
        assert answer.status_code in {200, 404, 422}, (query, answer.status_code)


@pytest.mark.usefixtures("mapped")
def test_a_map_asked_again_is_the_kept_answer_until_a_value_or_a_boundary_changes(
    client: TestClient,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    """The second asking of a map reads neither the units, the boundaries nor the figures
    again: its answer's bytes were kept (1 statement for the indicator, 1 for the data
    generations, beside the caller's sign-in). The kept answer is the same JSON as the
    model of the map (the collection, then the map's own keys), and a value or a boundary
    written moves it on at once."""
    viewer = make_official(username="xem-lai-ban-do")
    path = f"/api/v1/monitoring/map?indicator={INDICATOR}&period=2025&parent=24"
    first = client.get(path, headers=viewer.headers)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    with counted_queries(engine) as log:
        again = client.get(path, headers=viewer.headers)
    assert again.content == first.content
    assert log.touching("administrative_unit") == []
    assert log.touching("monitoring_unit_boundary") == []
    assert log.touching("data_value") == []
    found = first.json()
    assert list(found)[:2] == ["type", "features"]
    assert list(found)[2:] == [
        "indicator",
        "period",
        "parent",
        "unit_set",
        "synthetic",
        "without_boundary",
        "with_target",
    ]
    with sessions() as session:
        drawn = unit_map(session, catalogue_service.indicator(session, INDICATOR), "2025", "24")
    assert found["features"] == drawn.collection["features"]
    assert json.loads(drawn.collection_text) == drawn.collection

    _values(sessions, [(TAN_TIEN, "2025", 77)])
    by_code = {f["id"]: f for f in _map(client, viewer.headers, "2025")["features"]}
    assert by_code[TAN_TIEN]["properties"]["value"] == 77

    with sessions.begin() as session:
        unit_id = session.scalars(
            select(AdministrativeUnit.id).where(
                AdministrativeUnit.unit_set == UnitSet.CURRENT,
                AdministrativeUnit.code == TAN_TIEN,
            )
        ).one()
        session.execute(delete(UnitBoundary).where(UnitBoundary.unit_id == unit_id))
    by_code = {f["id"]: f for f in _map(client, viewer.headers, "2025")["features"]}
    assert by_code[TAN_TIEN]["geometry"]["type"] == "Point"
