"""A dashboard sends as many statements with many panels as with few (issue 11 item 4), on
both databases: the API's data, the portal's dashboard page, the wall screen and the kiosk
screen, first with a round of every kind of panel (a map, key figures and series on the
dashboard's unit and pinned to a legacy unit, a ranking, a plan's status counts, exchange
traffic, field reports), then with three rounds (24 panels, the most a dashboard holds) on
other indicators and plans. Budgets measure the computing path (``query_budget`` keeps no
figure from one request to the next)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.portal.monitoring.support import DEMO_PLAN, PLAN, TARGETS, load_test_plan
from tests.portal.test_pages import log_in
from tinhso.monitoring.dashboards.kiosk import kiosk_service
from tinhso.monitoring.dashboards.schemas import (
    MAX_PANELS,
    DashboardCreate,
    KioskLinkCreate,
    PanelIn,
)
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.schemas import ElementCreate, IndicatorCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.registry.queries import QueryBudget

SLUG = "nhieu-o"
VIET_YEN, DA_MAI, YEN_DUNG = "07777", "07228", "07681"
ROUNDS = 3
# One monthly indicator per round, with values for three communes of the current Bắc Ninh.
INDICATORS = [f"bdk_chi_so_{n}" for n in range(ROUNDS)]
# Yearly indicators of the test plan (targets on the legacy Bắc Giang), one per round.
PINNED = [code for code, *_ in TARGETS[:ROUNDS]]
PLANS = [DEMO_PLAN, PLAN, DEMO_PLAN]


@pytest.fixture
def world(sessions: sessionmaker[Session], province_tree: dict[str, str]) -> str:
    """The monitoring demo and the test plan, a monthly indicator per round with values,
    and a dashboard of one round; returns a kiosk link's token for it (on Việt Yên)."""
    load_test_plan(sessions)
    with sessions.begin() as session:
        items: list[ValueIn] = []
        for n, code in enumerate(INDICATORS):
            catalogue_service.create_element(
                session,
                ElementCreate.model_validate(
                    {
                        "code": f"{code}_pct",
                        "name_vi": f"Chỉ tiêu bảng điều khiển {n}",
                        "unit_of_measure": "%",
                        "value_type": "percentage",
                        "aggregation": "average",
                        "period_type": "month",
                    }
                ),
            )
            catalogue_service.create_indicator(
                session,
                IndicatorCreate(
                    code=code,
                    name_vi=f"Tỷ lệ bảng điều khiển {n}",
                    formula=f"{code}_pct",
                    unit_of_measure="%",
                ),
            )
            items.extend(
                ValueIn.model_validate(
                    {
                        "element_code": f"{code}_pct",
                        "unit": {"unit_set": "current", "code": commune},
                        "period": period,
                        "value": 30 + 10 * n + 5 * index,
                    }
                )
                for index, commune in enumerate((VIET_YEN, DA_MAI, YEN_DUNG))
                for period in ("2025-08", "2025-09")
            )
        value_service.record_many(session, items, Provenance(entered_by_id=None))
        dashboard_service.create(
            session,
            DashboardCreate(slug=SLUG, title_vi="Nhiều ô", unit="24", panels=_panels(1)),
        )
        _link, token = kiosk_service.create(
            session,
            KioskLinkCreate(label="Phòng họp", dashboards=[SLUG], unit=VIET_YEN),
            None,
        )
    return token


def _round(n: int) -> list[dict[str, Any]]:
    """Eight panels, every kind, on round ``n``'s indicator and plan."""
    legacy = {"unit_set": "legacy", "code": "24"}
    pinned: dict[str, Any] = (
        {"kind": "kpi", "settings": {"indicator": PINNED[n], "unit": legacy}}
        if n % 2 == 0
        else {"kind": "timeseries", "settings": {"indicator": PINNED[n], "unit": legacy}}
    )
    return [
        {"kind": "map", "settings": {"indicator": INDICATORS[n]}},
        {"kind": "kpi", "settings": {"indicator": INDICATORS[n], "period": "2025-09"}},
        pinned,
        {"kind": "timeseries", "settings": {"indicator": INDICATORS[n], "last": 4}},
        {"kind": "ranking", "settings": {"indicator": INDICATORS[n], "limit": 2}},
        {"kind": "status_counts", "settings": {"plan": PLANS[n], "as_of": 2024}},
        {"kind": "exchange", "settings": {"days": 7}},
        {"kind": "field_reports", "settings": {"months": 3}},
    ]


def _panels(rounds: int) -> list[PanelIn]:
    return [PanelIn.model_validate(p) for n in range(rounds) for p in _round(n)]


def test_a_dashboard_sends_as_many_statements_for_many_panels_as_for_few(
    client: TestClient,
    admin: Official,
    world: str,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    assert len(_panels(ROUNDS)) == MAX_PANELS
    log_in(client, admin.username)
    shown: dict[str, list[int]] = {}

    def fetch(
        name: str, path: str, params: dict[str, str], api: bool = False
    ) -> Callable[[], None]:
        def get() -> None:
            answer = client.get(path, params=params, headers=admin.headers if api else None)
            assert answer.status_code == 200, answer.text
            if api:
                panels = answer.json()["panels"]
                assert all(p["error"] is None for p in panels), [p["error"] for p in panels]
                shown.setdefault(name, []).append(len(panels))
            else:
                assert "dash-error" not in answer.text
                shown.setdefault(name, []).append(answer.text.count('data-panel="'))

        return get

    fetches = {
        "API": fetch("API", f"/api/v1/monitoring/dashboards/{SLUG}", {}, api=True),
        "API, a commune": fetch(
            "API, a commune", f"/api/v1/monitoring/dashboards/{SLUG}", {"unit": DA_MAI}, api=True
        ),
        "page": fetch("page", f"/monitoring/dashboards/{SLUG}", {}),
        "wall": fetch("wall", "/monitoring/wall", {"d": SLUG}),
        "kiosk": fetch("kiosk", "/monitoring/kiosk", {"k": world}),
    }
    for warm in fetches.values():  # the kiosk link's first use is written once
        warm()
    shown.clear()

    def grow() -> None:
        with sessions.begin() as session:
            dashboard = dashboard_service.get(session, SLUG)
            dashboard_service.replace_panels(session, dashboard, _panels(ROUNDS))

    counts = query_budget.flat_each(
        fetches,
        grow,
        # 54 on both databases for the dashboard's own unit, 55 for a commune (the units
        # inside it): 8 panels sent 106 (96), 24 panels 286 (258) before they were computed
        # together
        {"API": 56, "API, a commune": 57, "page": 56, "wall": 56, "kiosk": 57},
    )
    assert all(seen == [8, 24] for seen in shown.values()), shown
    assert all(0 < before == after for before, after in counts.values()), counts
