"""The monitoring API: who may do what, validation (nothing written), corrections history,
computed values, on both databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from tests.monitoring.support import API, create_fibre_catalogue
from tinhso.monitoring.models import DataValue, DataValueCorrection
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official


@pytest.fixture
def catalogue(client: TestClient, admin: Official, province_tree: dict[str, str]) -> None:
    create_fibre_catalogue(client, admin)


def _value(
    element: str, unit: str, value: Any, period: str = "2024", unit_set: str = "legacy"
) -> dict[str, Any]:
    return {
        "element_code": element,
        "unit": {"unit_set": unit_set, "code": unit},
        "period": period,
        "value": value,
    }


def _count(sessions: sessionmaker[Session], model: Any = DataValue) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_catalogue_is_managed_by_admins_only(
    client: TestClient, catalogue: None, make_official: MakeOfficial
) -> None:
    element = {
        "code": "iot_devices",
        "name_vi": "Thiết bị IoT",
        "unit_of_measure": "thiết bị",
        "value_type": "integer",
        "aggregation": "sum",
        "period_type": "year",
    }
    for role, organisation in (
        (Role.OFFICER, "ubnd-tinh"),
        (Role.ORGANISATION_ADMIN, "so-tttt"),
        (Role.ORGANISATION_ADMIN, "ubnd-khac"),
    ):
        official = make_official(role, organisation)
        response = client.post(f"{API}/elements", headers=official.headers, json=element)
        assert response.status_code == 403, (role, organisation)
        assert response.json()["message"]["vi"]
    province_admin = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh")
    response = client.post(f"{API}/elements", headers=province_admin.headers, json=element)
    assert response.status_code == 201
    viewer = make_official(Role.VIEWER, "so-yte")
    listed = client.get(f"{API}/elements", headers=viewer.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 4
    assert client.get(f"{API}/elements").status_code == 401


def test_invalid_formula_is_rejected(client: TestClient, catalogue: None, admin: Official) -> None:
    response = client.post(
        f"{API}/indicators",
        headers=admin.headers,
        json={
            "code": "bad",
            "name_vi": "Sai",
            "unit_of_measure": "%",
            "formula": "__import__('os').system('id')",
        },
    )
    assert response.status_code == 422
    response = client.post(
        f"{API}/indicators",
        headers=admin.headers,
        json={
            "code": "bad",
            "name_vi": "Sai",
            "unit_of_measure": "%",
            "formula": "unknown_element / households",
        },
    )
    assert response.status_code == 422
    assert "unknown_element" in response.json()["message"]["en"]


@pytest.mark.parametrize(
    ("rows", "field", "fragment_vi", "fragment_en"),
    [
        ([_value("households", "222", 10.5)], "values.0.value", "số nguyên", "must be an integer"),
        ([_value("households", "222", "nhiều")], "values.0.value", "sai kiểu", "wrong value type"),
        ([_value("fibre_share", "222", 140)], "values.0.value", "phần trăm", "percentage"),
        ([_value("households", "222", -5)], "values.0.value", "giới hạn dưới", "rule: bounds"),
        (
            [_value("households", "222", 100), _value("households_fibre", "222", 150)],
            "values.1.value",
            "fibre-le-households",
            "households_fibre <= households (150 <= 100) is false",
        ),
        ([_value("households", "99999", 1)], "values.0.unit", "không tồn tại", "does not exist"),
        (
            [_value("households", "222", 1, period="2024-Q1")],
            "values.0.period",
            "kỳ năm",
            "must be a year",
        ),
        (
            [_value("households", "222", 1, period="20x4")],
            "values.0.period",
            "không hợp lệ",
            "not valid",
        ),
        ([_value("nothing", "222", 1)], "values.0.element_code", "không tồn tại", "does not exist"),
        (
            [{**_value("households", "222", 1), "source": "automatic"}],
            "values.0.audit_record_id",
            "nhật ký",
            "audit record",
        ),
    ],
)
def test_invalid_values_write_nothing(
    client: TestClient,
    catalogue: None,
    admin: Official,
    sessions: sessionmaker[Session],
    rows: list[dict[str, Any]],
    field: str,
    fragment_vi: str,
    fragment_en: str,
) -> None:
    # a good value first in the batch: it must not be written either
    batch = [_value("households", "213", 1000), *rows]
    batch_fields = [f"values.{int(field.split('.')[1]) + 1}.{field.split('.', 2)[2]}"]
    response = client.post(f"{API}/values/batch", headers=admin.headers, json={"values": batch})
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == batch_fields
    message = body["errors"][0]["message"]
    assert fragment_vi in message["vi"]
    assert fragment_en in message["en"]
    # the message names the value
    assert rows[-1]["element_code"] in message["en"]
    assert _count(sessions) == 0


def test_rule_checks_stored_values_too(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert (
        client.post(
            f"{API}/values", headers=admin.headers, json=_value("households", "222", 100)
        ).status_code
        == 201
    )
    response = client.post(
        f"{API}/values", headers=admin.headers, json=_value("households_fibre", "222", 101)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "value"
    assert "fibre-le-households" in response.json()["message"]["vi"]
    assert _count(sessions) == 1


def test_officer_writes_only_for_own_unit_and_below(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    viet_yen = make_official(Role.OFFICER, "ubnd-viet-yen")  # legacy district 222
    # a commune of Việt Yên and the district itself
    for unit in ("07759", "222"):
        response = client.post(
            f"{API}/values", headers=viet_yen.headers, json=_value("households", unit, 10)
        )
        assert response.status_code == 201, response.text
        assert response.json()["entered_by"] == viet_yen.username
    # another district (TP Bắc Giang) and the province: forbidden, nothing written
    for unit in ("213", "24", "07201"):
        response = client.post(
            f"{API}/values", headers=viet_yen.headers, json=_value("households", unit, 10)
        )
        assert response.status_code == 403, unit
        assert unit in response.json()["message"]["vi"]
    response = client.post(
        f"{API}/values/batch",
        headers=viet_yen.headers,
        json={"values": [_value("households", "07762", 5), _value("households", "213", 5)]},
    )
    assert response.status_code == 403
    assert _count(sessions) == 2
    # the department (no unit of its own) acts for the province: any Bắc Giang unit
    department = make_official(Role.OFFICER, "so-tttt")
    assert (
        client.post(
            f"{API}/values", headers=department.headers, json=_value("households", "213", 10)
        ).status_code
        == 201
    )
    # another province's committee has no unit: nothing
    other = make_official(Role.ORGANISATION_ADMIN, "ubnd-khac")
    assert (
        client.post(
            f"{API}/values", headers=other.headers, json=_value("households", "213", 11)
        ).status_code
        == 403
    )
    viewer = make_official(Role.VIEWER, "ubnd-viet-yen")
    assert (
        client.post(
            f"{API}/values", headers=viewer.headers, json=_value("households", "07765", 10)
        ).status_code
        == 403
    )
    listed = client.get(f"{API}/values", headers=viewer.headers, params={"element": "households"})
    assert listed.json()["total"] == 3


def test_corrections_keep_history(
    client: TestClient,
    catalogue: None,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")
    created = client.post(
        f"{API}/values",
        headers=officer.headers,
        json={**_value("households", "222", 1000), "source_reference": "BC 12"},
    )
    value_id = created.json()["id"]
    first = client.put(
        f"{API}/values/{value_id}",
        headers=officer.headers,
        json={"value": 1200, "reason": "Số liệu rà soát lại"},
    )
    assert first.status_code == 200, first.text
    assert (first.json()["value"], first.json()["version"]) == (1200, 2)
    # a correction that breaks a rule is refused and changes nothing
    client.post(
        f"{API}/values", headers=officer.headers, json=_value("households_fibre", "222", 1100)
    )
    refused = client.put(
        f"{API}/values/{value_id}",
        headers=officer.headers,
        json={"value": 1000, "reason": "Nhập nhầm"},
    )
    assert refused.status_code == 422
    second = client.put(
        f"{API}/values/{value_id}",
        headers=officer.headers,
        json={
            "value": 1300,
            "reason": "Theo báo cáo quý IV",
            "source": "file",
            "source_reference": "BC 31/12",
        },
    )
    assert second.json()["version"] == 3
    history = client.get(f"{API}/values/{value_id}/corrections", headers=officer.headers).json()
    assert [(h["version"], h["previous_value"], h["new_value"], h["reason"]) for h in history] == [
        (1, 1000, 1200, "Số liệu rà soát lại"),
        (2, 1200, 1300, "Theo báo cáo quý IV"),
    ]
    assert history[0]["previous_source_reference"] == "BC 12"
    assert history[0]["corrected_by"] == officer.username
    current = client.get(f"{API}/values/{value_id}", headers=officer.headers).json()
    assert (current["value"], current["source"], current["source_reference"]) == (
        1300,
        "file",
        "BC 31/12",
    )
    # another district's officer cannot correct it
    other = make_official(Role.OFFICER, "ubnd-tinh")
    assert other  # the province committee's officer may (unit above)
    assert (
        client.put(
            f"{API}/values/{value_id}",
            headers=other.headers,
            json={"value": 1301, "reason": "Cấp tỉnh điều chỉnh"},
        ).status_code
        == 200
    )
    assert _count(sessions, DataValueCorrection) == 3


def test_computed_values_and_trees(client: TestClient, catalogue: None, admin: Official) -> None:
    response = client.post(
        f"{API}/values/batch",
        headers=admin.headers,
        json={
            "values": [
                _value("households", "222", 40000),
                _value("households_fibre", "222", 30000),
                _value("households", "213", 60000),
                _value("households_fibre", "213", 50000),
            ]
        },
    )
    assert response.json() == {"inserted": 4, "corrected": 0, "unchanged": 0}
    again = client.post(
        f"{API}/values/batch",
        headers=admin.headers,
        json={"values": [_value("households", "222", 40000)]},
    )
    assert again.json() == {"inserted": 0, "corrected": 0, "unchanged": 1}
    legacy = client.get(
        f"{API}/indicators/households-fibre-rate/values",
        headers=admin.headers,
        params={"period": "2024", "tree": "legacy", "level": "district", "parent": "24"},
    ).json()
    assert legacy["tree"] == "legacy"
    assert {v["unit"]["code"]: round(v["value"], 2) for v in legacy["items"]} == {
        "213": 83.33,
        "222": 75.0,
    }
    current = client.get(
        f"{API}/indicators/households-fibre-rate/values",
        headers=admin.headers,
        params={"period": "2024", "tree": "current", "unit": "24"},
    ).json()
    assert current["tree"] == "current"
    assert "tổng hợp lại" in current["note_vi"]
    assert [(v["unit_name"], v["value"], v["basis"]) for v in current["items"]] == [
        ("Tỉnh Bắc Ninh", pytest.approx(80.0), "reaggregated")
    ]
    ranking = client.get(
        f"{API}/indicators/households-fibre-rate/ranking",
        headers=admin.headers,
        params={"period": "2024", "tree": "legacy", "level": "district", "parent": "24"},
    ).json()
    assert [(r["rank"], r["unit"]["code"]) for r in ranking["items"]] == [(1, "213"), (2, "222")]


def test_plans_targets_progress_and_index(
    client: TestClient, catalogue: None, admin: Official, make_official: MakeOfficial
) -> None:
    plan = client.post(
        f"{API}/plans",
        headers=admin.headers,
        json={
            "code": "kh-324",
            "number": "324/KH-UBND",
            "title_vi": "Kế hoạch chuyển đổi số",
            "issuing_body": "UBND tỉnh Bắc Giang",
            "issued_on": "2021-08-01",
            "start_year": 2021,
            "end_year": 2030,
            "organisation_code": "ubnd-tinh",
        },
    )
    assert plan.status_code == 201, plan.text
    bad = client.post(
        f"{API}/plans/kh-324/targets",
        headers=admin.headers,
        json={
            "indicator_code": "households-fibre-rate",
            "year": 2025,
            "scope_unit": {"unit_set": "legacy", "code": "24"},
            "target_low": 90,
            "target_high": 80,
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "target_low"
    target = client.post(
        f"{API}/plans/kh-324/targets",
        headers=admin.headers,
        json={
            "indicator_code": "households-fibre-rate",
            "year": 2025,
            "comparison": ">",
            "target_value": 80,
            "scope_unit": {"unit_set": "legacy", "code": "24"},
        },
    )
    assert target.status_code == 201, target.text
    client.post(
        f"{API}/values/batch",
        headers=admin.headers,
        json={"values": [_value("households", "24", 1000), _value("households_fibre", "24", 850)]},
    )
    viewer = make_official(Role.VIEWER, "so-yte")
    progress = client.get(
        f"{API}/plans/kh-324/progress", headers=viewer.headers, params={"as_of": 2024}
    ).json()
    assert [(i["status"], i["actual"], i["comparison"]) for i in progress["items"]] == [
        ("achieved", 85.0, ">")
    ]
    assert client.get(f"{API}/plans/kh-324", headers=viewer.headers).json()["targets"] == 1
    methodology = client.post(
        f"{API}/methodologies",
        headers=admin.headers,
        json={
            "code": "dti-test",
            "name_vi": "DTI thử",
            "max_points": 100,
            "normalisation": "percent",
            "components": [
                {"code": "infra", "name_vi": "Hạ tầng số", "max_points": 100},
                {
                    "code": "fibre",
                    "parent_code": "infra",
                    "name_vi": "Cáp quang",
                    "indicator_code": "households-fibre-rate",
                    "max_points": 100,
                    "scoring": "thresholds",
                    "thresholds": [{"min": 50, "points": 40}, {"min": 80, "points": 100}],
                },
            ],
        },
    )
    assert methodology.status_code == 201, methodology.text
    index = client.get(
        f"{API}/methodologies/dti-test/index",
        headers=viewer.headers,
        params={"period": "2024", "tree": "legacy"},
    ).json()
    assert [(i["unit"]["code"], i["total"], i["pillars"][0]["points"]) for i in index["items"]] == [
        ("24", 100.0, 100.0)
    ]
    current = client.get(
        f"{API}/methodologies/dti-test/index",
        headers=viewer.headers,
        params={"period": "2024", "tree": "current"},
    ).json()
    assert [i["unit"]["code"] for i in current["items"]] == ["24"]
    assert (
        client.get(f"{API}/values", headers=viewer.headers, params={"limit": 100000}).status_code
        == 422
    )
    listed = client.get(f"{API}/methodologies", headers=viewer.headers, params={"limit": 1}).json()
    assert (listed["total"], listed["items"][0]["components"][1]["scoring"]) == (1, "thresholds")
    rules = client.get(f"{API}/validation-rules", headers=viewer.headers).json()
    assert [r["code"] for r in rules["items"]] == ["fibre-le-households"]
    assert client.delete(f"{API}/plans/kh-324", headers=viewer.headers).status_code == 403
    assert client.delete(f"{API}/plans/kh-324", headers=admin.headers).status_code == 204
