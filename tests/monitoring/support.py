"""Helpers shared by the monitoring tests: a small catalogue and value entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinhso.monitoring.schemas import ElementCreate, IndicatorCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.conftest import Official

API = "/api/v1/monitoring"

# Legacy Bắc Giang (24): Việt Yên (222) communes and TP Bắc Giang (213) wards.
VIET_YEN_COMMUNES = ("07759", "07762", "07765")  # Thượng Lan, Việt Tiến, Nghĩa Trung
BAC_GIANG_CITY_WARDS = ("07201", "07207")  # Thọ Xương, Ngô Quyền


def element(session: Session, code: str, **fields: Any) -> None:
    data = {
        "code": code,
        "name_vi": f"Chỉ tiêu {code}",
        "unit_of_measure": "đơn vị",
        "value_type": "number",
        "aggregation": "sum",
        "period_type": "year",
        **fields,
    }
    catalogue_service.create_element(session, ElementCreate.model_validate(data))


def indicator(session: Session, code: str, formula: str, **fields: Any) -> None:
    data = {
        "code": code,
        "name_vi": f"Chỉ số {code}",
        "formula": formula,
        "unit_of_measure": "%",
        **fields,
    }
    catalogue_service.create_indicator(session, IndicatorCreate.model_validate(data))


def values(
    session: Session, rows: list[tuple[str, str, str, str, Any]], user_id: int | None = None
) -> None:
    """Record (element, unit set, unit code, period, value) rows."""
    items = [
        ValueIn.model_validate(
            {
                "element_code": code,
                "unit": {"unit_set": unit_set, "code": unit},
                "period": period,
                "value": value,
            }
        )
        for code, unit_set, unit, period, value in rows
    ]
    value_service.record_many(session, items, Provenance(entered_by_id=user_id))


def create_fibre_catalogue(
    client: TestClient, admin: Official, extra_elements: tuple[dict[str, Any], ...] = ()
) -> None:
    """Through the API: households, households with fibre, a fibre share, the rule
    "fibre ≤ households" and the indicator households-fibre-rate (plus any extra elements)."""
    elements: tuple[dict[str, Any], ...] = (
        {"code": "households", "value_type": "integer", "min_value": 0},
        {"code": "households_fibre", "value_type": "integer", "min_value": 0},
        {"code": "fibre_share", "value_type": "percentage", "aggregation": "none"},
        *extra_elements,
    )
    for element in elements:
        response = client.post(
            f"{API}/elements",
            headers=admin.headers,
            json={
                "name_vi": f"Chỉ tiêu {element['code']}",
                "unit_of_measure": "hộ",
                "aggregation": "sum",
                "period_type": "year",
                **element,
            },
        )
        assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/validation-rules",
        headers=admin.headers,
        json={
            "code": "fibre-le-households",
            "name_vi": "Số hộ có cáp quang không vượt quá số hộ",
            "name_en": "Households with fibre do not exceed households",
            "left_expression": "households_fibre",
            "comparison": "<=",
            "right_expression": "households",
        },
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/indicators",
        headers=admin.headers,
        json={
            "code": "households-fibre-rate",
            "name_vi": "Tỷ lệ hộ gia đình có cáp quang",
            "name_en": "Households with fibre",
            "formula": "households_fibre / households * 100",
            "unit_of_measure": "%",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["elements"] == ["households", "households_fibre"]


def legacy_value(element: str, unit: str, value: float, period: str) -> dict[str, Any]:
    """One element value of a legacy unit, as the values batch API takes it."""
    return {
        "element_code": element,
        "unit": {"unit_set": "legacy", "code": unit},
        "period": period,
        "value": value,
    }


def record_values(client: TestClient, admin: Official, values: list[dict[str, Any]]) -> None:
    """Values written through the API (``legacy_value``), refused loudly."""
    answer = client.post(f"{API}/values/batch", headers=admin.headers, json={"values": values})
    assert answer.status_code in {200, 201}, answer.text
