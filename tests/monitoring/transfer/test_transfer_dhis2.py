"""DHIS2 dataValueSets in and out through the API, on both databases: period and orgUnit
mapping, all or nothing, who may import, and export -> import round trip."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from tests.monitoring.transfer.test_transfer import catalogue
from tinhso.monitoring.models import DataValue, ValueSource
from tinhso.monitoring.transfer.dhis2 import from_dhis2_period, to_dhis2_period
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

__all__ = ["catalogue"]  # the fixture, shared with the file import tests

URL = "/api/v1/monitoring/dhis2/dataValueSets"


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DataValue)) or 0)


def document(*values: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"dataSet": "pMbC0FJPkcm", **top, "dataValues": list(values)}


@pytest.mark.parametrize(
    ("ours", "theirs"), [("2025", "2025"), ("2025-Q3", "2025Q3"), ("2025-07", "202507")]
)
def test_period_mapping(ours: str, theirs: str) -> None:
    assert to_dhis2_period(ours) == theirs
    assert from_dhis2_period(theirs) == ours
    assert from_dhis2_period(ours) == ours


def test_unsupported_dhis2_periods() -> None:
    for period in ("2025W3", "2025S1", "2025April", "202513", "20250701"):
        assert from_dhis2_period(period) is None, period


def test_import_maps_periods_and_units_and_records_provenance(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    payload = document(
        {"dataElement": "households", "period": "2024", "orgUnit": "legacy:07759", "value": "1380"},
        {
            "dataElement": "online_dossiers",
            "period": "202407",
            "orgUnit": "07762",
            "value": "12",
            "comment": "từ DHIS2",
            "storedBy": "dhis2-user",
            "lastUpdated": "2024-08-01T10:00:00.000",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "followup": False,
        },
        {"dataElement": "satisfaction", "period": "2024Q3", "orgUnit": "07759", "value": 4.5},
        {"dataElement": "households", "period": "2025", "orgUnit": "current:00004", "value": "7"},
        **{"tinhso:unitSet": "legacy"},
    )
    response = client.post(
        URL, headers=admin.headers, json=payload, params={"name": "tu-dhis2.json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["importCount"] == {
        "imported": 4,
        "updated": 0,
        "ignored": 0,
        "deleted": 0,
    }
    assert response.json()["status"] == "SUCCESS"
    with sessions() as session:
        rows = session.scalars(select(DataValue)).all()
        assert {(r.period, r.value) for r in rows} == {
            ("2024", 1380.0),
            ("2024-07", 12.0),
            ("2024-Q3", 4.5),
            ("2025", 7.0),
        }
        assert {r.source for r in rows} == {ValueSource.FILE}
        assert {r.source_reference for r in rows} == {"DHIS2 dataValueSets: tu-dhis2.json"}
        assert "từ DHIS2" in {r.comment for r in rows}


def test_conflicts_are_ignored_unless_atomic_mode_all(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    payload = document(
        {"dataElement": "households", "period": "2024", "orgUnit": "07759", "value": "100"},
        {"dataElement": "households", "period": "2024W3", "orgUnit": "07759", "value": "1"},
        {"dataElement": "households", "period": "2024", "orgUnit": "07762", "value": "abc"},
        {"dataElement": "households", "period": "2024", "orgUnit": "99999", "value": "1"},
        {
            "dataElement": "households",
            "period": "2024",
            "orgUnit": "07765",
            "value": "1",
            "categoryOptionCombo": "Prlt0C1RF0s",
        },
        {"dataElement": "households", "period": "2024", "orgUnit": "07759", "value": "100"},
        {"dataElement": "no_such_element", "period": "2024", "orgUnit": "07759", "value": "1"},
    )
    expected = {
        (1, "period"),
        (2, "value"),
        (3, "orgUnit"),
        (4, "categoryOptionCombo"),
        (5, "period"),  # duplicates item 0
        (6, "dataElement"),
    }
    atomic = client.post(
        URL,
        headers=admin.headers,
        json=payload,
        params={"unit_set": "legacy", "atomicMode": "ALL"},
    )
    assert atomic.status_code == 409, atomic.text
    summary = atomic.json()
    assert summary["status"] == "ERROR"
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": 7, "deleted": 0}
    assert {(c["indexes"][0], c["property"]) for c in summary["conflicts"]} == expected
    assert count(sessions) == 0

    # DHIS2's default (atomicMode NONE): the valid value is imported, the others ignored.
    partial = client.post(URL, headers=admin.headers, json=payload, params={"unit_set": "legacy"})
    assert partial.status_code == 200, partial.text
    summary = partial.json()
    assert summary["status"] == "WARNING"
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 6, "deleted": 0}
    assert {(c["indexes"][0], c["property"]) for c in summary["conflicts"]} == expected
    conflict = next(c for c in summary["conflicts"] if c["indexes"] == [3])
    assert conflict["object"] == "99999"
    assert "99999" in conflict["value"]
    assert "99999" in conflict["valueVi"]
    assert count(sessions) == 1
    not_a_set = client.post(URL, headers=admin.headers, json={"values": []})
    assert not_a_set.status_code == 422


def test_officer_may_not_import_another_units_values(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    payload = document(
        {"dataElement": "households", "period": "2024", "orgUnit": "07759", "value": "1"},
        {"dataElement": "households", "period": "2024", "orgUnit": "07201", "value": "1"},
        **{"tinhso:unitSet": "legacy"},
    )
    response = client.post(URL, headers=officer.headers, json=payload)
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "dataValues.1.orgUnit"
    assert count(sessions) == 0
    allowed = document(payload["dataValues"][0], **{"tinhso:unitSet": "legacy"})
    assert client.post(URL, headers=officer.headers, json=allowed).status_code == 200
    assert count(sessions) == 1


def test_export_imports_back_unchanged_and_changes_are_corrections(
    client: TestClient,
    catalogue: None,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    payload = document(
        {"dataElement": "households", "period": "2024", "orgUnit": "07759", "value": "1380"},
        {"dataElement": "fibre_share", "period": "2024", "orgUnit": "222", "value": "47.85"},
        {"dataElement": "online_dossiers", "period": "202407", "orgUnit": "07762", "value": "5"},
        {"dataElement": "satisfaction", "period": "2024Q3", "orgUnit": "07759", "value": "4.5"},
        **{"tinhso:unitSet": "legacy"},
    )
    assert client.post(URL, headers=admin.headers, json=payload).status_code == 200
    viewer = make_official(Role.VIEWER, "so-yte")
    exported = client.get(URL, headers=viewer.headers, params={"unit_set": "legacy"})
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert body["tinhso:unitSet"] == "legacy"
    by_element = {v["dataElement"]: v for v in body["dataValues"]}
    assert by_element["online_dossiers"]["period"] == "202407"
    assert by_element["satisfaction"]["period"] == "2024Q3"
    assert by_element["fibre_share"]["value"] == "47.85"
    assert by_element["households"]["value"] == "1380"
    assert by_element["households"]["orgUnit"] == "07759"
    assert by_element["households"]["storedBy"] == "root-admin"
    again = client.post(URL, headers=admin.headers, json=body)
    # DHIS2 counts a value imported again as updated, even with the same number.
    assert again.json()["importCount"] == {"imported": 0, "updated": 4, "ignored": 0, "deleted": 0}
    by_element["households"]["value"] = "1400"
    changed = client.post(URL, headers=admin.headers, json=body)
    assert changed.json()["importCount"]["updated"] == 4
    with sessions() as session:
        corrected = session.scalars(select(DataValue).where(DataValue.value == 1400.0)).one()
        assert corrected.version == 2
    current = client.get(URL, headers=viewer.headers, params={"unit_set": "current"})
    assert current.json() == {"tinhso:unitSet": "current", "dataValues": []}
    filtered = client.get(
        URL, headers=viewer.headers, params={"unit_set": "legacy", "element": "satisfaction"}
    )
    assert [v["dataElement"] for v in filtered.json()["dataValues"]] == ["satisfaction"]
    assert client.get(URL).status_code == 401


# --- importStrategy, dryRun: payloads shaped as DHIS2 2.40 exports them --------------------


def dhis2_value(
    element: str, period: str, org_unit: str, value: str, **more: Any
) -> dict[str, Any]:
    """One data value exactly as DHIS2 2.40 writes it in GET /api/dataValueSets.json
    (with dataElementIdScheme=CODE and orgUnitIdScheme=CODE)."""
    return {
        "dataElement": element,
        "period": period,
        "orgUnit": org_unit,
        "categoryOptionCombo": "HllvX50cXC0",
        "attributeOptionCombo": "HllvX50cXC0",
        "value": value,
        "storedBy": "admin",
        "created": "2024-08-01T10:02:13.219",
        "lastUpdated": "2024-08-01T10:02:13.219",
        "comment": more.pop("comment", None),
        "followup": False,
        **more,
    }


def dhis2_export(*values: dict[str, Any]) -> dict[str, Any]:
    return {"tinhso:unitSet": "legacy", "dataValues": list(values)}


def stored(sessions: sessionmaker[Session]) -> dict[str, float]:
    with sessions() as session:
        rows = session.execute(select(DataValue.period, DataValue.value)).all()
        return {row.period: row.value for row in rows}


@pytest.fixture
def one_stored(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    """households 2023 = 100 at legacy 07759."""
    first = dhis2_export(dhis2_value("households", "2023", "07759", "100"))
    assert client.post(URL, headers=admin.headers, json=first).status_code == 200
    assert stored(sessions) == {"2023": 100.0}


# A stored value changed (2023) and a new one (2024).
CHANGE_AND_NEW = dhis2_export(
    dhis2_value("households", "2023", "07759", "150"),
    dhis2_value("households", "2024", "07759", "200"),
)


@pytest.mark.parametrize(
    ("strategy", "count", "after", "conflict_at"),
    [
        (
            "CREATE",
            {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0},
            {"2023": 100.0, "2024": 200.0},
            0,
        ),
        (
            "UPDATE",
            {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0},
            {"2023": 150.0},
            1,
        ),
        (
            "CREATE_AND_UPDATE",
            {"imported": 1, "updated": 1, "ignored": 0, "deleted": 0},
            {"2023": 150.0, "2024": 200.0},
            None,
        ),
        ("DELETE", {"imported": 0, "updated": 0, "ignored": 1, "deleted": 1}, {}, 1),
    ],
)
def test_import_strategy_is_honoured(
    client: TestClient,
    one_stored: None,
    admin: Official,
    sessions: sessionmaker[Session],
    strategy: str,
    count: dict[str, int],
    after: dict[str, float],
    conflict_at: int | None,
) -> None:
    response = client.post(
        URL, headers=admin.headers, json=CHANGE_AND_NEW, params={"importStrategy": strategy}
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["responseType"] == "ImportSummary"
    assert summary["importCount"] == count
    assert summary["status"] == ("SUCCESS" if conflict_at is None else "WARNING")
    assert [c["indexes"] for c in summary["conflicts"]] == (
        [] if conflict_at is None else [[conflict_at]]
    )
    assert all({"object", "value"} <= set(c) for c in summary["conflicts"])
    assert stored(sessions) == after


def test_dry_run_writes_nothing_and_reports_what_would_happen(
    client: TestClient, one_stored: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    payload = dhis2_export(
        *CHANGE_AND_NEW["dataValues"],
        dhis2_value("households", "2022", "99999", "1"),  # no such unit: a conflict
        dhis2_value("households", "2023", "07759", "", deleted=True),  # a duplicate of item 0
    )
    for strategy, count in (
        ("CREATE_AND_UPDATE", {"imported": 1, "updated": 1, "ignored": 2, "deleted": 0}),
        ("DELETE", {"imported": 0, "updated": 0, "ignored": 3, "deleted": 1}),
    ):
        response = client.post(
            URL,
            headers=admin.headers,
            json=payload,
            params={"dryRun": "true", "importStrategy": strategy},
        )
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["importOptions"]["dryRun"] is True
        assert summary["status"] == "WARNING"
        assert summary["importCount"] == count, strategy
        assert stored(sessions) == {"2023": 100.0}
    with sessions() as session:
        assert session.scalars(select(DataValue)).one().version == 1


def test_a_deleted_value_in_the_document_is_deleted(
    client: TestClient, one_stored: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    payload = dhis2_export(
        dhis2_value("households", "2023", "07759", "100", deleted=True),
        dhis2_value("households", "2024", "07759", "200"),
    )
    response = client.post(URL, headers=admin.headers, json=payload)
    assert response.status_code == 200, response.text
    assert response.json()["importCount"] == {
        "imported": 1,
        "updated": 0,
        "ignored": 0,
        "deleted": 1,
    }
    assert stored(sessions) == {"2024": 200.0}
