"""Query budgets of the monitoring lists and the portal's monitoring page: as many statements
for many elements, indicators, plans and values as for few (``query_budget`` fixture)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from tests.exchange.conftest import API as EXCHANGE_API
from tests.exchange.conftest import service_payload
from tests.monitoring.support import API, BAC_GIANG_CITY_WARDS, VIET_YEN_COMMUNES, element
from tests.monitoring.support import indicator as make_indicator
from tests.monitoring.support import values as record_values
from tests.portal.budgets import pages_stay_flat
from tests.portal.monitoring.support import load_demo
from tinhso.core.db import utcnow
from tinhso.monitoring.collection.runs import collection_run_service
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import Scoring
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import ComponentIn, MethodologyCreate, PlanCreate, TargetCreate
from tinhso.registry.models import AdministrativeUnit, Role, UnitLevel, UnitSet

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.portal.budgets import Rows
    from tests.registry.queries import QueryBudget

UNITS = (*VIET_YEN_COMMUNES, *BAC_GIANG_CITY_WARDS)
FIBRE = "households_fibre_rate"
BAC_GIANG = {"unit_set": "legacy", "code": "24"}


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


def test_the_overview_sends_as_many_statements_for_many_units_with_values_as_for_few(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """A target for every commune of Việt Yên: each row with a value shows where its numbers
    came from, read for all the rows at once (it was a read per row)."""
    with sessions.begin() as session:
        element(session, "ho_cap_quang")
        make_indicator(session, "ty-le-cap-quang", "ho_cap_quang")
        plan = plan_service.create(
            session,
            PlanCreate(
                code="kh-xa", number="9/KH-UBND", title_vi="Kế hoạch xã", issuing_body="UBND tỉnh"
            ),
        )
        target = TargetCreate.model_validate(
            {
                "indicator_code": "ty-le-cap-quang",
                "target_value": 50,
                "year": 2025,
                "scope_unit": {"unit_set": "legacy", "code": "222"},
                "scope_level": "commune",
            }
        )
        plan_service.add_target(session, plan, target)
    filled = iter(UNITS)

    def grow(count: int) -> None:
        with sessions.begin() as session:
            record_values(
                session,
                [
                    ("ho_cap_quang", "legacy", unit, year, 40)
                    for unit in [next(filled) for _ in range(count)]
                    for year in ("2023", "2024")
                ],
            )

    grow(1)
    shown: list[int] = []

    def fetch() -> None:
        response = client.get("/monitoring?plan=kh-xa&as_of=2024", headers=admin.headers)
        assert response.status_code == 200, response.text
        # the rows with a value name the source of their numbers
        shown.append(response.text.count("status-behind"))

    query_budget.flat(fetch, lambda: grow(2), budget=50)  # was 50 -> 60 (a read per row)
    assert shown[1] > shown[0], shown


class _Catalogue:
    """Grows, through the API, every kind of row the other monitoring lists show: pillars,
    methodologies with components, validation rules, a plan's targets, values in more units
    (indicator values, ranking, the DHIS2 export) and corrections of one value."""

    def __init__(self, client: TestClient, admin: Official, sessions: sessionmaker[Session]):
        self.client, self.admin, self.sessions = client, admin, sessions
        self.next = 1
        self.units = iter(UNITS)
        with sessions.begin() as session:
            element(session, "gia_tri")
            make_indicator(session, "chi-so-gia-tri", "gia_tri * 2")
            plan_service.create(
                session,
                PlanCreate(
                    code="ke-hoach-muc-tieu",
                    number="9/KH-UBND",
                    title_vi="Kế hoạch mục tiêu",
                    issuing_body="UBND tỉnh",
                ),
            )
        self.value_id = self._post("/values", self._value(next(self.units), 1))["id"]

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(f"{API}{path}", headers=self.admin.headers, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    @staticmethod
    def _value(unit: str, value: int) -> dict[str, Any]:
        return {
            "element_code": "gia_tri",
            "unit": {"unit_set": "legacy", "code": unit},
            "period": "2024",
            "value": value,
        }

    def grow(self, count: int) -> None:
        for _ in range(count):
            n, self.next = self.next, self.next + 1
            self._post("/pillars", {"code": f"tru-cot-{n}", "name_vi": f"Trụ cột {n}"})
            self._post(
                "/validation-rules",
                {
                    "code": f"quy-tac-{n}",
                    "name_vi": f"Quy tắc {n}",
                    "left_expression": "gia_tri",
                    "comparison": "<=",
                    "right_expression": f"gia_tri + {n}",
                },
            )
            self._post(
                "/methodologies",
                {
                    "code": f"phuong-phap-{n}",
                    "name_vi": f"Phương pháp {n}",
                    "max_points": 100,
                    "normalisation": "percent",
                    "components": [
                        {"code": "ha-tang", "name_vi": "Hạ tầng số", "max_points": 100},
                        {
                            "code": "gia-tri",
                            "parent_code": "ha-tang",
                            "name_vi": "Giá trị",
                            "indicator_code": "chi-so-gia-tri",
                            "max_points": 100,
                            "scoring": "thresholds",
                            "thresholds": [{"min": 5, "points": 40}, {"min": 8, "points": 100}],
                        },
                    ],
                },
            )
            self._post(
                "/plans/ke-hoach-muc-tieu/targets",
                {
                    "indicator_code": "chi-so-gia-tri",
                    "target_value": 10 * n,
                    "year": 2024 + n,
                    "scope_unit": {"unit_set": "legacy", "code": "222"},
                },
            )
            unit = next(self.units, None)
            if unit is not None:
                self._post("/values", self._value(unit, n))
            response = self.client.put(
                f"{API}/values/{self.value_id}",
                headers=self.admin.headers,
                json={"value": 100 + n, "reason": f"Rà soát lần {n}"},
            )
            assert response.status_code == 200, response.text


def test_other_monitoring_lists_stay_flat(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """Pillars, methodologies, validation rules, a plan's targets, an indicator's values and
    ranking, a value's corrections and the DHIS2 export (issue 11 item 4)."""
    catalogue = _Catalogue(client, admin, sessions)
    catalogue.grow(1)
    lists: dict[str, int] = {
        # path: statements at most (two of them find the caller and their roles)
        f"{API}/pillars?limit=100": 4,
        f"{API}/methodologies?limit=100": 6,
        f"{API}/validation-rules?limit=100": 4,
        f"{API}/plans/ke-hoach-muc-tieu/targets?limit=100": 6,
        f"{API}/indicators/chi-so-gia-tri/values?period=2024&tree=legacy&level=commune": 6,
        f"{API}/indicators/chi-so-gia-tri/ranking?period=2024&tree=legacy&level=commune": 6,
        f"{API}/values/{catalogue.value_id}/corrections": 5,
        f"{API}/dhis2/dataValueSets?unit_set=legacy": 6,
    }
    sizes: dict[str, list[int]] = {path: [] for path in lists}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            response = client.get(path, headers=admin.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            sizes[path].append(len(body["dataValues"]) if "dataValues" in body else _rows(response))

        return fetch

    # methodologies: one query for each methodology's components before issue 11 (6 -> 22)
    query_budget.flat_each(
        {path: fetcher(path) for path in lists}, lambda: catalogue.grow(8), lists
    )
    for path, (before, after) in sizes.items():
        assert after > before, f"{path}: the rows did not grow ({before} -> {after})"


@pytest.mark.usefixtures("province_tree")
def test_collection_sources_and_runs_stay_flat(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """The collection sources and one source's runs: more sources, each with runs, and more
    runs of the first cost no more statements (issue 11 item 4)."""
    collection = f"{API}/collection"
    response = client.post(
        "/api/v1/systems",
        json={
            "code": "his",
            "organisation_code": "so-yte",
            "name_vi": "Hệ thống his",
            "is_consumer": True,
            "is_provider": True,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{EXCHANGE_API}/services",
        json=service_payload(code="thong-ke", classification="internal"),
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    numbers = iter(range(1, 100))
    lease = timedelta(minutes=10)
    clock = [utcnow()]

    def grow(count: int) -> None:
        for _ in range(count):
            n = next(numbers)
            with sessions.begin() as session:
                element(session, f"ho_so_{n}", value_type="integer", period_type="month")
            response = client.post(
                f"{collection}/sources",
                headers=admin.headers,
                json={
                    "code": f"nguon-{n}",
                    "name_vi": f"Nguồn {n}",
                    "element_code": f"ho_so_{n}",
                    "service": {
                        "organisation_code": "so-yte",
                        "system_code": "his",
                        "code": "thong-ke",
                        "version": "v1",
                    },
                    "request_path": "/thong-ke/ho-so",
                    "value_path": "$.data.total",
                    "unit_set": "legacy",
                    "unit_code": "24",
                    "period_rule": "current_month",
                    "interval_minutes": 1440,
                },
            )
            assert response.status_code == 201, response.text
            # every source gets a run, the first one more: a later claim closes the
            # abandoned run before it and opens another
            with sessions.begin() as session:
                for source_id in collection_run_service.due(session, clock[0]):
                    assert collection_run_service.claim(session, source_id, clock[0], lease)
                clock[0] += lease + timedelta(seconds=1)
                first = collection_run_service.claim(session, 1, clock[0], lease)
                assert first is not None

    grow(2)
    lists: dict[str, int] = {
        # path: statements at most (two of them find the caller and their roles)
        f"{collection}/sources?limit=100": 5,
        f"{collection}/sources/nguon-1/runs?limit=100": 5,
    }
    sizes: dict[str, list[int]] = {path: [] for path in lists}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            response = client.get(path, headers=admin.headers)
            assert response.status_code == 200, response.text
            sizes[path].append(_rows(response))

        return fetch

    query_budget.flat_each({path: fetcher(path) for path in lists}, lambda: grow(8), lists)
    for path, (before, after) in sizes.items():
        assert after > before, f"{path}: the rows did not grow ({before} -> {after})"


def _legacy_communes(sessions: sessionmaker[Session], count: int) -> list[str]:
    """Commune-level units of Việt Yên and Bắc Giang city (legacy set), ours first."""
    with sessions() as session:
        found = session.scalars(
            select(AdministrativeUnit.code)
            .where(
                AdministrativeUnit.unit_set == UnitSet.LEGACY,
                AdministrativeUnit.level == UnitLevel.COMMUNE,
                AdministrativeUnit.code.not_in(UNITS),
            )
            .order_by(AdministrativeUnit.code)
            .limit(count)
        ).all()
    return [*UNITS, *found]


def _filled(page: str) -> int:
    """The elements the reporting calendar's units filled, all together."""
    return sum(int(filled) for filled in re.findall(r"(\d+) / \d+", page))


def test_monitoring_pages_stay_flat(
    client: TestClient,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    province_tree: dict[str, str],
    query_budget: QueryBudget,
) -> None:
    """The grid, the reporting calendar, the rankings, the composite index and the wall
    (issue 11 item 4): more monthly elements, values in more units, more panels cost no more
    statements."""
    load_demo(sessions)
    officer = make_official(Role.OFFICER, "ubnd-viet-yen")  # enters Việt Yên's values
    communes = _legacy_communes(sessions, 20)
    with sessions.begin() as session:
        element(session, "xep_hang")
        make_indicator(session, "chi-so-xep-hang", "xep_hang")
        methodology_service.create(
            session,
            MethodologyCreate(
                code="chi-so-xa",
                name_vi="Chỉ số cấp xã",
                issued_on=date(2025, 3, 1),
                unit_level=UnitLevel.COMMUNE,
                max_points=100,
                components=[
                    ComponentIn(code="tru-cot", name_vi="Trụ cột", max_points=100),
                    ComponentIn(
                        code="thanh-phan",
                        parent_code="tru-cot",
                        name_vi="Thành phần",
                        indicator_code="chi-so-xep-hang",
                        max_points=100,
                        scoring=Scoring.RATIO,
                        reference_value=100,
                    ),
                ],
            ),
        )
        # One panel of each kind that reads values (their number is capped, and each costs
        # its own statements: see the report of issue 11 item 4); their data grows.
        pinned = {"indicator": "chi-so-xep-hang", "unit": BAC_GIANG}
        dashboard_service.create(
            session,
            DashboardCreate(
                slug="bang-tuong",
                title_vi="Bảng tường",
                unit="24",
                panels=[
                    PanelIn(kind=PanelKind.KPI, settings=pinned),
                    PanelIn(kind=PanelKind.TIMESERIES, settings={**pinned, "last": 60}),
                    PanelIn(kind=PanelKind.RANKING, settings={"indicator": FIBRE}),
                    PanelIn(kind=PanelKind.EXCHANGE, settings={}),
                    PanelIn(kind=PanelKind.FIELD_REPORTS, settings={}),
                ],
            ),
        )
    made = iter(range(1, 1000))

    def grow() -> None:
        numbers = [next(made) for _ in range(4)]
        with sessions.begin() as session:
            for n in numbers:
                element(session, f"thang_{n}", period_type="month")
            record_values(
                session,
                [(f"thang_{n}", "legacy", unit, "2024-10", n) for n in numbers for unit in UNITS]
                + [
                    ("xep_hang", "legacy", unit, "2024", 10 + k)
                    for k, unit in enumerate(communes[: 3 * numbers[-1]])
                ]
                + [("xep_hang", "legacy", UNITS[0], str(2000 + n), n) for n in numbers],
            )
        _grow(sessions, 100 + numbers[0], 2)

    grow()
    grid = "/monitoring/grid?unit=legacy:07759&period=2024-10"
    reporting = "/monitoring/reporting?unit=legacy:222&period=2024-10"
    rankings = (
        "/monitoring/rankings?indicator=chi-so-xep-hang&period=2024&tree=legacy&level=commune"
    )
    pages: dict[str, tuple[Rows, int]] = {
        # path: (what marks a row, statements at most)
        grid: ("<tr", 12),
        # the communes of Việt Yên (fixed in number): how many elements each filled grows
        reporting: (_filled, 10),
        rankings: ("<tr", 10),
        "/monitoring/index?methodology=chi-so-xa&period=2024&tree=legacy": ("<tr", 17),
        # the time series' points (table rows)
        "/monitoring/wall?d=bang-tuong": ("<tr", 45),
    }
    pages_stay_flat(client, pages, grow, query_budget, officer.headers)
