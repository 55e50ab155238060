"""Query budgets of the monitoring lists and the portal's monitoring page: as many statements
for many elements, indicators, plans and values as for few (``query_budget`` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.monitoring.support import API, BAC_GIANG_CITY_WARDS, VIET_YEN_COMMUNES, element
from tests.monitoring.support import indicator as make_indicator
from tests.monitoring.support import values as record_values
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import PlanCreate, TargetCreate

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.registry.queries import QueryBudget

UNITS = (*VIET_YEN_COMMUNES, *BAC_GIANG_CITY_WARDS)


def _grow(sessions: sessionmaker[Session], start: int, count: int) -> None:
    """``count`` elements, each with an indicator, values in every unit for two years, and
    a plan with a target on it."""
    with sessions.begin() as session:
        for n in range(start, start + count):
            element(session, f"chi_tieu_{n}")
            make_indicator(session, f"chi-so-{n}", f"chi_tieu_{n} * 2")
            record_values(
                session,
                [
                    (f"chi_tieu_{n}", "legacy", unit, year, 10 + n)
                    for unit in UNITS
                    for year in ("2023", "2024")
                ],
            )
            plan = plan_service.create(
                session,
                PlanCreate(
                    code=f"ke-hoach-{n}",
                    number=f"{n}/KH-UBND",
                    title_vi=f"Kế hoạch {n}",
                    issuing_body="UBND tỉnh",
                ),
            )
            target = TargetCreate.model_validate(
                {
                    "indicator_code": f"chi-so-{n}",
                    "target_value": 50,
                    "year": 2025,
                    "scope_unit": {"unit_set": "legacy", "code": "222"},
                }
            )
            plan_service.add_target(session, plan, target)


def _rows(response: Any) -> int:
    if "text/html" in response.headers.get("content-type", ""):
        return int(response.text.count("<tr"))
    body = response.json()
    return len(body["items"] if isinstance(body, dict) and "items" in body else body)


def test_monitoring_lists_and_page_stay_flat(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    _grow(sessions, 1, 2)
    lists: dict[str, int] = {
        # path: statements at most
        f"{API}/elements?limit=100": 4,
        f"{API}/indicators?limit=100": 5,
        f"{API}/plans?limit=100": 5,
        f"{API}/values?limit=200": 6,
        # flat in rows; the merged stored-value reads (issue 12) added one, the open-alert
        # badge (issue 15) another
        "/monitoring": 32,
    }
    sizes: dict[str, list[int]] = {path: [] for path in lists}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            response = client.get(path, headers=admin.headers)
            assert response.status_code == 200, response.text
            sizes[path].append(_rows(response))

        return fetch

    query_budget.flat_each(
        {path: fetcher(path) for path in lists}, lambda: _grow(sessions, 3, 5), lists
    )
    for path, (before, after) in sizes.items():
        # The overview shows the first plan's targets, which stay the same: the page is held
        # flat as plans, indicators and values grow. (Its cost still grows with the number of
        # targets it shows: each indicator's values are computed by a query of their own.)
        if path != "/monitoring":
            assert after > before, f"{path}: the rows did not grow ({before} -> {after})"
