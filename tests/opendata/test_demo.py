"""The demo publishes real data from the registry: the communes after 01/07/2025 with the
legacy units they were made of, and the province's agencies, as CSV files."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD
from tinhso.opendata.demo import AGENCIES, COMMUNES, load_opendata_demo
from tinhso.opendata.models import OpendataDataset, OpendataGroup, OpendataLicence
from tinhso.registry.demo import load_registry_demo
from tinhso.registry.models import UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker


def test_the_demo_publishes_the_communes_with_their_predecessors(
    app: FastAPI, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    files = app.state.resource_files
    with sessions.begin() as session:
        load_registry_demo(session, TEST_PASSWORD)
        load_opendata_demo(session, files)
    with sessions.begin() as session:
        load_opendata_demo(session, files)  # idempotent
        assert session.scalar(select(func.count()).select_from(OpendataDataset)) == 2
        assert session.scalar(select(func.count()).select_from(OpendataGroup)) == 12
        assert session.scalar(select(func.count()).select_from(OpendataLicence)) == 3
        province = unit_service.get(session, UnitSet.CURRENT, "24")  # Bắc Ninh from 01/07/2025
        expected_communes = {
            node.code
            for node in unit_service.subtree(session, province.id)
            if node.level.value == "commune"
        }

    with TestClient(app, base_url="http://127.0.0.1") as client:
        found = client.get("/api/3/action/package_search", params={"q": "xa phuong"}).json()
        assert COMMUNES in [item["name"] for item in found["result"]["results"]]
        shown = client.get("/api/3/action/package_show", params={"id": COMMUNES}).json()["result"]
        assert shown["spatial_unit_code"] == province.code
        [resource] = shown["resources"]
        downloaded = client.get(resource["url"].removeprefix("http://127.0.0.1"))
        assert downloaded.status_code == 200
        rows = list(csv.DictReader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
        assert {row["ma_xa"] for row in rows} == expected_communes
        assert all(row["ma_don_vi_cu"] and row["ten_don_vi_cu"] for row in rows)
        assert resource["size"] == len(downloaded.content)
        agencies = client.get("/api/3/action/package_show", params={"id": AGENCIES}).json()
        assert agencies["result"]["num_resources"] == 1
