"""Boundaries stored for the maps, and an indicator's map, on both databases: the demo's
synthetic boundaries cover the provinces and Bắc Ninh's communes; the map API gives the
communes' features with their values; a broken upload names its features and keeps the
boundaries in use; only platform admins upload."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tests.portal.monitoring.support import load_demo, load_test_plan
from tests.portal.test_pages import form_token, log_in
from tinhso.monitoring.maps.boundaries import load_synthetic
from tinhso.monitoring.models import UnitBoundary
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

WARD, OTHER = "07777", "07228"  # Phường Việt Yên, Phường Đa Mai (Bắc Ninh since 01/07/2025)


def _stored(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(UnitBoundary.synthetic, func.count()).group_by(UnitBoundary.synthetic)
        ).all()
    return {("synthetic" if synthetic else "uploaded"): count for synthetic, count in rows}


def test_the_demo_draws_the_provinces_and_bac_ninhs_communes(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    load_test_plan(sessions)  # the demo, and the test plan's elements
    stored = _stored(sessions)
    assert stored["synthetic"] > 34 + 50  # 34 provinces and Bắc Ninh's ~99 communes
    with sessions.begin() as session:  # a second load changes nothing
        load_synthetic(session, "24")
    assert _stored(sessions) == stored
    element = "kt_thanh_toan_pct"
    items = [
        ValueIn.model_validate(
            {
                "element_code": element,
                "unit": {"unit_set": "current", "code": code},
                "period": "2025",
                "value": value,
            }
        )
        for code, value in ((WARD, 61.5), (OTHER, 40))
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    viewer = make_official(username="xem-ban-do")
    answer = client.get(
        "/api/v1/monitoring/map?indicator=kt_thanh_toan&period=2025&parent=24",
        headers=viewer.headers,
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["type"] == "FeatureCollection" and found["synthetic"] is True
    by_code = {f["id"]: f for f in found["features"]}
    assert by_code[WARD]["properties"]["value"] == 61.5
    assert by_code[WARD]["properties"]["name"] == "Phường Việt Yên"
    assert by_code[WARD]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert len(by_code) > 50 and found["without_boundary"] == []
    provinces = client.get(
        "/api/v1/monitoring/map?indicator=kt_thanh_toan&period=2025", headers=viewer.headers
    ).json()
    assert len(provinces["features"]) == 34
    commune = client.get(
        f"/api/v1/monitoring/map?indicator=kt_thanh_toan&period=2025&parent={WARD}",
        headers=viewer.headers,
    )
    assert commune.status_code == 422


def test_a_broken_upload_names_its_features_and_keeps_the_boundaries_in_use(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    load_demo(sessions)
    before = _stored(sessions)
    broken = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ma": "24"},
                "geometry": {"type": "Polygon", "coordinates": [[[106, 21], [106.1, 21]]]},
            },
            {"type": "Feature", "properties": {}, "geometry": None},
        ],
    }
    refused = client.put(
        "/api/v1/monitoring/boundaries?level=province",
        files={"file": ("ranh-gioi.geojson", json.dumps(broken).encode(), "application/geo+json")},
        headers=admin.headers,
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    fields = {e["field"] for e in problem["errors"]}
    assert any(f.startswith("features[0]") for f in fields)
    assert any(f.startswith("features[1]") for f in fields)
    assert problem["errors"][0]["message"]["vi"] and problem["errors"][0]["message"]["en"]
    assert _stored(sessions) == before
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ma": "24"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[106, 21], [106.3, 21], [106.3, 21.3], [106, 21.3], [106, 21]]
                    ],
                },
            }
        ],
    }
    accepted = client.put(
        "/api/v1/monitoring/boundaries?level=province",
        files={"file": ("bac-ninh.geojson", json.dumps(square).encode(), "application/geo+json")},
        headers=admin.headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["stored"] == 1
    assert any("Thiếu ranh giới" in m["vi"] for m in accepted.json()["messages"])
    assert _stored(sessions)["uploaded"] == 1
    with sessions.begin() as session:  # a synthetic load never replaces an uploaded boundary
        load_synthetic(session, "24")
    assert _stored(sessions)["uploaded"] == 1
    officer = make_official(username="khong-phai-quan-tri")
    forbidden = client.put(
        "/api/v1/monitoring/boundaries?level=province",
        files={"file": ("x.geojson", json.dumps(square).encode(), "application/geo+json")},
        headers=officer.headers,
    )
    assert forbidden.status_code == 403


def test_an_operator_uploads_boundaries_in_the_portal(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    load_demo(sessions)
    before = _stored(sessions)
    log_in(client, admin.username)
    page = client.get("/monitoring/map")
    assert page.status_code == 200 and 'id="upload-title"' in page.text
    token = form_token(page)
    broken = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}}]}'
    refused = client.post(
        "/monitoring/map/boundaries",
        data={"csrf_token": token, "level": "province"},
        files={"file": ("hong.geojson", broken, "application/geo+json")},
    )
    assert refused.status_code == 422
    assert 'id="boundary-file-error"' in refused.text and "features[0]" in refused.text
    assert _stored(sessions) == before
    square = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "24"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[106, 21], [106.3, 21], [106.3, 21.3], [106, 21]]],
                    },
                }
            ],
        }
    ).encode()
    done = client.post(
        "/monitoring/map/boundaries",
        data={"csrf_token": token, "level": "province"},
        files={"file": ("bac-ninh.geojson", square, "application/geo+json")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert 'id="upload-done"' in client.get(done.headers["location"]).text
    assert _stored(sessions)["uploaded"] == 1
    client.cookies.clear()
    viewer = make_official(username="chi-xem-ban-do")
    log_in(client, viewer.username)
    page = client.get("/monitoring/map")
    assert 'id="upload-title"' not in page.text
    forbidden = client.post(
        "/monitoring/map/boundaries",
        data={"csrf_token": form_token(page), "level": "province"},
        files={"file": ("bac-ninh.geojson", square, "application/geo+json")},
    )
    assert forbidden.status_code == 403
