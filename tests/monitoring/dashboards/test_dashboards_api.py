"""Dashboards through the API, on both databases: an administrator builds one of every panel
kind and every official reads it with its panels' data (the value, target and status of a
KPI tile, a series against its target, a ranking, a plan's status counts, exchange traffic,
the map's communes); a unit chosen on the map filters the other panels; settings are
checked by their kind's model with field errors in Vietnamese and English; officials
without the role are refused; odd input never answers 500; the statements sent stay as
many however many communes and periods have values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from tests.portal.monitoring.support import load_demo
from tests.portal.test_pages import log_in
from tests.registry.queries import counted_queries
from tinhso.core.db import utcnow
from tinhso.exchange.audit.chain import AuditEntry, append_entries
from tinhso.monitoring.dashboards import api as dashboards_api
from tinhso.monitoring.dashboards.models import DashboardPanel
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.schemas import ElementCreate, IndicatorCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import OrganisationKind, Role, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, UnitRef

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.registry.queries import QueryBudget

URL = "/api/v1/monitoring/dashboards"
VIET_YEN, DA_MAI, YEN_DUNG, TAN_AN, TAN_TIEN = "07777", "07228", "07681", "07682", "07699"
ELEMENT, INDICATOR = "bang_dieu_khien_pct", "bang_dieu_khien"


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


@pytest.fixture
def world(sessions: sessionmaker[Session], province_tree: dict[str, str]) -> None:
    """The monitoring demo (Plan 324, fibre figures of Bắc Giang, synthetic boundaries) and an
    indicator with values for three communes of Bắc Ninh in 08 and 09/2025."""
    load_demo(sessions)
    with sessions.begin() as session:
        catalogue_service.create_element(
            session,
            ElementCreate.model_validate(
                {
                    "code": ELEMENT,
                    "name_vi": "Hộ dùng dịch vụ số",
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
                code=INDICATOR,
                name_vi="Tỷ lệ hộ dùng dịch vụ số",
                formula=ELEMENT,
                unit_of_measure="%",
            ),
        )
    _values(
        sessions,
        [
            (VIET_YEN, "2025-08", 40),
            (VIET_YEN, "2025-09", 55),
            (DA_MAI, "2025-09", 70),
            (YEN_DUNG, "2025-09", 30),
        ],
    )


def _every_kind() -> list[dict[str, Any]]:
    return [
        {"kind": "map", "settings": {"indicator": INDICATOR, "period": "2025-09"}},
        {
            "kind": "kpi",
            "title_vi": "Cáp quang",
            "settings": {
                "indicator": "households_fibre_rate",
                "unit": {"unit_set": "legacy", "code": "24"},
            },
        },
        {"kind": "kpi", "settings": {"indicator": INDICATOR, "period": "2025-09"}},
        {"kind": "timeseries", "settings": {"indicator": INDICATOR, "last": 4}},
        {"kind": "ranking", "settings": {"indicator": INDICATOR, "period": "2025-09", "limit": 2}},
        {"kind": "status_counts", "settings": {"plan": "bg_kh_324", "as_of": 2024}},
        {"kind": "exchange", "settings": {"days": 7}},
    ]


def _create(client: TestClient, who: Official, slug: str = "tong-quan") -> Any:
    return client.post(
        URL,
        headers=who.headers,
        json={
            "slug": slug,
            "title_vi": "Tổng quan tỉnh",
            "title_en": "Province overview",
            "unit": "24",
            "rotation_seconds": 20,
            "owner_organisation": "ubnd-tinh",
            "panels": _every_kind(),
        },
    )


@pytest.mark.usefixtures("world")
def test_an_admin_builds_every_kind_of_panel_and_an_official_reads_their_data(
    client: TestClient, admin: Official, make_official: MakeOfficial
) -> None:
    created = _create(client, admin)
    assert created.status_code == 201, created.text
    assert created.json()["panel_count"] == 7
    viewer = make_official(Role.VIEWER, "so-tttt")
    listed = client.get(URL, headers=viewer.headers)
    assert listed.status_code == 200
    assert [(d["slug"], d["panel_count"], d["owner_organisation"]) for d in listed.json()] == [
        ("tong-quan", 7, "ubnd-tinh")
    ]
    answer = client.get(f"{URL}/tong-quan", headers=viewer.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    panels = body["panels"]
    assert [p["kind"] for p in panels] == [
        "map", "kpi", "kpi", "timeseries", "ranking", "status_counts", "exchange"
    ]  # fmt: skip
    assert all(p["error"] is None for p in panels), [p["error"] for p in panels]
    features = {f["properties"]["code"]: f for f in panels[0]["data"]["geojson"]["features"]}
    assert features[DA_MAI]["properties"]["value"] == 70
    assert panels[0]["data"]["synthetic"] is True
    # Pinned to the legacy Bắc Giang: its fibre rate in the latest period against Plan 324.
    fibre = panels[1]["data"]
    assert (fibre["period"], fibre["value"], fibre["unit"]["unit_set"]) == ("2024", 79, "legacy")
    assert fibre["target"] is not None and fibre["status"] is not None
    assert panels[1]["title_vi"] == "Cáp quang" and panels[2]["title_vi"] == "Số liệu chính"
    series = panels[3]["data"]["points"]
    assert [p["period"] for p in series] == ["2025-08", "2025-09"]
    ranking = panels[4]["data"]
    assert [r["code"] for r in ranking["rows"]] == [DA_MAI, VIET_YEN]
    assert ranking["total"] == 3
    counts = panels[5]["data"]
    assert sum(c["count"] for c in counts["counts"]) == counts["total"] > 0
    assert {c["status"] for c in counts["counts"]} >= {"achieved", "behind", "not_achieved"}
    assert panels[6]["data"]["exchanges"] == 0 and panels[6]["data"]["services"] == []


@pytest.mark.usefixtures("world")
def test_a_commune_chosen_on_the_map_filters_the_other_panels(
    client: TestClient, admin: Official
) -> None:
    assert _create(client, admin).status_code == 201
    answer = client.get(f"{URL}/tong-quan", headers=admin.headers, params={"unit": VIET_YEN})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["selected_unit"]["code"] == VIET_YEN and body["unit"]["code"] == "24"
    kpi = body["panels"][2]["data"]
    assert (kpi["unit"]["code"], kpi["value"]) == (VIET_YEN, 55)
    series = body["panels"][3]["data"]["points"]
    assert [p["value"] for p in series] == [40, 55]
    assert [r["selected"] for r in body["panels"][4]["data"]["rows"]] == [False, True]
    assert body["panels"][0]["data"]["selected"] == VIET_YEN
    # A unit outside the dashboard's province is refused, not guessed.
    outside = client.get(f"{URL}/tong-quan", headers=admin.headers, params={"unit": "01"})
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "unit"


@pytest.mark.usefixtures("world")
def test_a_chosen_unit_filters_plan_status_counts_and_exchange_traffic(
    client: TestClient, admin: Official, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Plan 324's targets are all on the legacy province Bắc Giang: the province (current
    Bắc Ninh, which it became part of) counts them all, a commune none (no target names a
    unit inside it). Exchange traffic inside a commune is that of its organisations, as
    consumer or as provider; the province sees its whole hub."""
    with sessions.begin() as session:
        organisation_service.create(
            session,
            OrganisationCreate(
                code="ubnd-phuong-viet-yen",
                name_vi="UBND phường Việt Yên",
                kind=OrganisationKind.OTHER,
                administrative_unit=UnitRef(unit_set=UnitSet.CURRENT, code=VIET_YEN),
            ),
        )
    now = utcnow()
    append_entries(
        engine,
        [
            AuditEntry(now, "a", "GET", 200, "ok", consumer="ubnd-phuong-viet-yen/mot-cua",
                       service="so-yte/his/ho-so/v1"),
            AuditEntry(now, "b", "GET", 500, "upstream_error", consumer="so-yte/his",
                       service="ubnd-phuong-viet-yen/mot-cua/ho-so/v1"),
            AuditEntry(now, "c", "GET", 200, "ok", consumer="so-yte/his",
                       service="so-tttt/lgsp/danh-muc/v1"),
            AuditEntry(now, "d", "GET", 200, "ok", consumer="ubnd-phuong-viet-yen-2/x",
                       service="so-tttt/lgsp/danh-muc/v1"),
        ],
    )  # fmt: skip
    assert _create(client, admin).status_code == 201
    whole = client.get(f"{URL}/tong-quan", headers=admin.headers).json()["panels"]
    commune = client.get(
        f"{URL}/tong-quan", headers=admin.headers, params={"unit": VIET_YEN}
    ).json()["panels"]
    assert whole[5]["data"]["total"] > 0 and whole[5]["data"]["unit"]["code"] == "24"
    assert commune[5]["data"]["total"] == 0
    assert sum(c["count"] for c in commune[5]["data"]["counts"]) == 0
    assert commune[5]["data"]["unit"]["code"] == VIET_YEN
    assert (whole[6]["data"]["exchanges"], whole[6]["data"]["by_organisations"]) == (4, None)
    traffic = commune[6]["data"]
    assert traffic["by_organisations"] == ["ubnd-phuong-viet-yen"]
    assert (traffic["exchanges"], traffic["errors"]) == (2, 1)
    assert {s["service"] for s in traffic["services"]} == {
        "so-yte/his/ho-so/v1",
        "ubnd-phuong-viet-yen/mot-cua/ho-so/v1",
    }
    # Another commune with no organisation: no exchange, not the province's.
    other = client.get(f"{URL}/tong-quan", headers=admin.headers, params={"unit": DA_MAI})
    assert other.json()["panels"][6]["data"]["exchanges"] == 0


@pytest.mark.usefixtures("world")
def test_settings_are_checked_by_their_kind_with_errors_named_in_both_languages(
    client: TestClient, admin: Official
) -> None:
    answer = client.post(
        URL,
        headers=admin.headers,
        json={
            "slug": "sai",
            "title_vi": "Sai",
            "unit": "24",
            "panels": [
                {"kind": "kpi", "settings": {}},
                {"kind": "ranking", "settings": {"indicator": INDICATOR, "limit": 500}},
                {"kind": "map", "settings": {"indicator": "khong-co", "colour": "do"}},
                {"kind": "status_counts", "settings": {"plan": "khong-co"}},
                {"kind": "kpi", "settings": {"indicator": INDICATOR, "period": "2025-Q9"}},
            ],
        },
    )
    assert answer.status_code == 422, answer.text
    errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert errors["panels.0.settings.indicator"] == {"vi": "Bắt buộc nhập", "en": "Required"}
    assert "panels.1.settings.limit" in errors
    assert "panels.2.settings.colour" in errors
    assert "panels.3.settings.plan" in errors
    assert "khong-co" in errors["panels.3.settings.plan"]["vi"]
    assert "panels.4.settings.period" in errors
    assert client.get(URL, headers=admin.headers).json() == []  # nothing stored
    assert _create(client, admin).status_code == 201
    again = _create(client, admin)
    assert again.status_code == 409
    replaced = client.put(
        f"{URL}/tong-quan/panels",
        headers=admin.headers,
        json={"panels": [{"kind": "exchange", "settings": {"days": 0}}]},
    )
    assert replaced.status_code == 422
    assert replaced.json()["errors"][0]["field"] == "panels.0.settings.days"
    assert client.get(f"{URL}/tong-quan", headers=admin.headers).json()["panel_count"] == 7


@pytest.mark.usefixtures("world")
def test_only_platform_and_province_admins_write_and_every_official_reads(
    client: TestClient, admin: Official, make_official: MakeOfficial
) -> None:
    province_admin = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh")
    assert _create(client, province_admin, "cua-tinh").status_code == 201
    for who in (
        make_official(Role.VIEWER, "ubnd-tinh"),
        make_official(Role.OFFICER, "so-tttt"),
        make_official(Role.ORGANISATION_ADMIN, "ubnd-viet-yen"),
    ):
        assert _create(client, who, "khong-duoc").status_code == 403
        assert client.get(f"{URL}/cua-tinh", headers=who.headers).status_code == 200
        refused = client.patch(f"{URL}/cua-tinh", headers=who.headers, json={"title_vi": "Đổi"})
        assert refused.status_code == 403
        assert "quản trị viên UBND tỉnh" in refused.json()["message"]["vi"]
        assert client.delete(f"{URL}/cua-tinh", headers=who.headers).status_code == 403
    assert client.get(URL).status_code == 401
    changed = client.patch(
        f"{URL}/cua-tinh", headers=province_admin.headers, json={"rotation_seconds": 15}
    )
    assert changed.status_code == 200 and changed.json()["rotation_seconds"] == 15
    assert client.delete(f"{URL}/cua-tinh", headers=admin.headers).status_code == 204
    assert client.get(f"{URL}/cua-tinh", headers=admin.headers).status_code == 404


@pytest.mark.usefixtures("world")
def test_odd_input_is_refused_and_never_answers_500(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert _create(client, admin).status_code == 201
    odd_units = ["", "x" * 16, "'; drop table x", "\u0000", "99999", "24.5"]
    for unit in odd_units:
        answer = client.get(f"{URL}/tong-quan", headers=admin.headers, params={"unit": unit})
        assert answer.status_code in {200, 404, 422}, (unit, answer.status_code)
    for slug in ["khong-co", "%00", "a" * 65, "TỔNG"]:
        assert client.get(f"{URL}/{slug}", headers=admin.headers).status_code in {404, 422}
    bodies: list[Any] = [
        None,
        [],
        {"slug": "Có Dấu", "title_vi": "x", "unit": "24"},
        {"slug": "ok", "title_vi": "", "unit": "24"},
        {"slug": "ok", "title_vi": "x", "unit": "khong-co"},
        {"slug": "ok", "title_vi": "x", "unit": "222"},  # a legacy district's code
        {"slug": "ok", "title_vi": "x", "unit": "24", "rotation_seconds": 1},
        {"slug": "ok", "title_vi": "x", "unit": "24", "panels": [{"kind": "video"}]},
        {"slug": "ok", "title_vi": "x", "unit": "24", "panels": [{"kind": "kpi", "settings": []}]},
        {"slug": "ok", "title_vi": "x", "unit": "24", "owner_organisation": "khong-co"},
        {"slug": "ok", "title_vi": "x\u0000", "unit": "24"},
        {"slug": "ok", "title_vi": "x", "unit": "2\u00004"},
        {
            "slug": "ok",
            "title_vi": "x",
            "unit": "24",
            "panels": [
                {"kind": "kpi", "settings": {"indicator": "a\u0000b", "period": "20\u000024"}},
                {"kind": "kpi", "settings": {"indicator": INDICATOR, "unit": {"code": "\u0000"}}},
                {"kind": "kpi", "settings": {"indicator": INDICATOR, "unit": {"code": "99999"}}},
            ],
        },
        {"slug": "ok", "title_vi": "x", "unit": "24", "panels": [{"kind": "map"}] * 25},
    ]
    for body in bodies:
        answer = client.post(URL, headers=admin.headers, json=body)
        assert answer.status_code in {404, 422}, (body, answer.status_code, answer.text)
    for change in [{"title_vi": None}, {"unit": None}, {"rotation_seconds": 0}, {"x": 1}]:
        answer = client.patch(f"{URL}/tong-quan", headers=admin.headers, json=change)
        assert answer.status_code == 422, (change, answer.text)
    # A panel whose indicator was deleted since shows why, and the dashboard still answers.
    with sessions.begin() as session:
        panel = session.scalars(select(DashboardPanel).where(DashboardPanel.kind == "map")).one()
        panel.settings = {"indicator": "da-xoa"}
        other = session.scalars(select(DashboardPanel).where(DashboardPanel.kind == "exchange"))
        other.one().settings = {"days": "many"}
    answer = client.get(f"{URL}/tong-quan", headers=admin.headers)
    assert answer.status_code == 200
    errors = [p["error"] for p in answer.json()["panels"] if p["error"]]
    assert len(errors) == 2
    assert "da-xoa" in errors[0]["vi"] and errors[1]["en"].startswith("The panel's settings")


@pytest.mark.usefixtures("world")
def test_a_dashboard_sends_as_many_statements_for_many_communes_and_periods_as_for_few(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    assert _create(client, admin).status_code == 201
    viewer = make_official(username="dem-bang-dieu-khien")

    def fetch() -> None:
        answer = client.get(f"{URL}/tong-quan", headers=viewer.headers)
        assert answer.status_code == 200
        assert all(p["error"] is None for p in answer.json()["panels"])

    def grow() -> None:
        _values(
            sessions,
            [(TAN_AN, "2025-09", 20.0), (TAN_TIEN, "2025-09", 65.0), ("07210", "2025-09", 45.0)]
            + [(VIET_YEN, f"2025-{month}", 30.0 + month) for month in (10, 11, 12)],
        )

    # 49 for 7 panels (92 before they were computed together: test_dashboard_budgets.py)
    before, after = query_budget.flat(fetch, grow, budget=52)
    assert 0 < before == after, (before, after)


@pytest.mark.usefixtures("world")
def test_the_dashboard_lists_send_as_many_statements_for_many_dashboards_as_for_few(
    client: TestClient,
    admin: Official,
    query_budget: QueryBudget,
) -> None:
    """Issue 11 item 4 for the dashboards' lists: the API's and the portal's."""
    assert _create(client, admin).status_code == 201
    log_in(client, admin.username)

    def fetch(path: str, headers: dict[str, str] | None = None) -> Callable[[], None]:
        def get() -> None:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, answer.text

        return get

    def grow() -> None:
        for slug in ("thu-hai", "thu-ba", "thu-tu"):
            assert _create(client, admin, slug).status_code == 201

    counts = query_budget.flat_each(
        {
            "GET " + URL: fetch(URL, admin.headers),
            "/monitoring/dashboards": fetch("/monitoring/dashboards"),
        },
        grow,
        {"GET " + URL: 8, "/monitoring/dashboards": 7},  # 6 and 5 on SQLite,
    )
    assert all(0 < before == after for before, after in counts.values()), counts


@pytest.mark.usefixtures("world")
def test_a_dashboard_asked_again_sends_its_kept_panels_and_counts_the_live_ones_again(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    """Asked again, the map, KPI, time-series, ranking and status-count panels are sent as
    kept (no boundary, value or unit tree read; each panel's data put in as the JSON text
    kept with it, the same JSON as the model's), while exchange traffic is counted again;
    a value written shows at once."""
    assert _create(client, admin).status_code == 201
    viewer = make_official(username="xem-lai-bang")
    first = client.get(f"{URL}/tong-quan", headers=viewer.headers)
    assert first.status_code == 200, first.text
    with counted_queries(engine) as log:
        again = client.get(f"{URL}/tong-quan", headers=viewer.headers)
    assert again.content == first.content
    assert log.touching("monitoring_unit_boundary") == []
    assert log.touching("data_value") == []
    assert log.touching("plan_target") == []
    assert log.touching("exchange_audit") != []  # the exchange panel, live
    with sessions() as session:
        model = dashboards_api._view(session, dashboard_service.get(session, "tong-quan"), None)
    assert again.json() == model.model_dump(mode="json")

    _values(sessions, [(DA_MAI, "2025-09", 12.5)])
    panels = client.get(f"{URL}/tong-quan", headers=viewer.headers).json()["panels"]
    features = {f["properties"]["code"]: f for f in panels[0]["data"]["geojson"]["features"]}
    assert features[DA_MAI]["properties"]["value"] == 12.5
