"""Each agency's open-data list: stale datasets (not updated within their declared frequency),
reviews due every six months, read by the organisation's officials, and both counted as
monthly monitoring values per administrative unit."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select, update

from tests.opendata.conftest import PUBLISHER
from tinhso.core.db import utcnow
from tinhso.monitoring.models import DataElement, DataValue
from tinhso.opendata.models import OpendataDataset
from tinhso.opendata.stewardship.agency_lists import (
    OVERDUE_ELEMENT,
    STALE_ELEMENT,
    end_of_month_before,
    publish_month,
)
from tinhso.registry.models import Organisation, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tests.opendata.conftest import Catalogue


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_stale_datasets_and_overdue_reviews_are_listed_and_counted(
    catalogue: Catalogue, sessions: sessionmaker[Session]
) -> None:
    officer = catalogue.officer
    monthly = officer.action.package_create(
        title="Giá cả thị trường hằng tháng", owner_org=PUBLISHER, update_frequency="monthly"
    )
    officer.action.package_create(
        title="Danh mục di tích", owner_org=PUBLISHER, update_frequency="irregular"
    )
    officer.action.package_create(
        title="Giá vàng hằng tháng (nội bộ)",
        owner_org=PUBLISHER,
        update_frequency="monthly",
        private=True,
    )
    long_ago = utcnow() - timedelta(days=200)
    with sessions.begin() as session:
        session.execute(
            update(OpendataDataset)
            .where(OpendataDataset.name.in_([monthly["name"], "gia-vang-hang-thang-noi-bo"]))
            .values(updated_at=long_ago, created_at=long_ago)
        )
        province = unit_service.get(session, UnitSet.CURRENT, "24")
        session.execute(
            update(Organisation)
            .where(Organisation.code == PUBLISHER)
            .values(administrative_unit_id=province.id)
        )
    url = f"{catalogue.url}/api/v1/opendata/lists/{PUBLISHER}"
    listed = httpx.get(url, headers=_headers(catalogue.viewer.apikey), timeout=10)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    stale = {item["name"]: item["stale"] for item in body["datasets"]}
    assert stale[monthly["name"]] is True
    assert stale["danh-muc-di-tich"] is False  # irregular: never stale
    assert stale["gia-vang-hang-thang-noi-bo"] is False  # private: not counted as published
    assert body["stale"] == 1
    assert body["last_review"] is None and body["review_overdue"] is True

    assert httpx.get(url, headers=_headers(catalogue.other.apikey), timeout=10).status_code == 403
    assert httpx.get(url, timeout=10).status_code == 401
    refused = httpx.post(
        f"{url}/reviews", json={"note": "x"}, headers=_headers(catalogue.viewer.apikey), timeout=10
    )
    assert refused.status_code == 403

    with sessions.begin() as session:
        done = publish_month(session, end_of_month_before())
    assert done.values == 2
    with sessions() as session:
        values = dict(
            session.execute(
                select(DataElement.code, DataValue.value)
                .join(DataElement, DataElement.id == DataValue.data_element_id)
                .where(DataValue.unit_id == province.id)
            ).all()
        )
    assert values == {STALE_ELEMENT: 1, OVERDUE_ELEMENT: 1}

    reviewed = httpx.post(
        f"{url}/reviews",
        json={"note": "Rà soát 6 tháng: cập nhật giá cả"},
        headers=_headers(officer.apikey),
        timeout=10,
    )
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["review_overdue"] is False
    assert reviewed.json()["last_review_note"] == "Rà soát 6 tháng: cập nhật giá cả"
    bad = httpx.post(
        f"{url}/reviews", json={"note": "a\x00b"}, headers=_headers(officer.apikey), timeout=10
    )
    assert bad.status_code == 422
