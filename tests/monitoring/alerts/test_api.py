"""The alerts API on both databases: rules managed by platform and province admins only,
odd input refused with a 4xx problem in Vietnamese and English (never a 500), the alerts
listed with their history and filters, in as many statements however many alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.monitoring.alerts.conftest import DA_MAI, INDICATOR, VIET_YEN, add_rule, record
from tests.portal.test_pages import log_in
from tinhso.monitoring.alerts.service import alert_service
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.registry.queries import QueryBudget

API = "/api/v1/monitoring"
pytestmark = pytest.mark.usefixtures("world")


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "code": "nguong",
        "name_vi": "Dưới 50%",
        "kind": "threshold",
        "indicator_code": INDICATOR,
        "scope_unit": {"unit_set": "current", "code": "24"},
        "scope_level": "commune",
        "operator": "<",
        "threshold": 50,
        **fields,
    }


def _evaluate(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        alert_service.evaluate(session)


def test_an_admin_adds_disables_and_deletes_a_rule(client: TestClient, admin: Official) -> None:
    created = client.post(f"{API}/alert-rules", headers=admin.headers, json=_body())
    assert created.status_code == 201, created.text
    assert created.json()["scope_unit"] == {"unit_set": "current", "code": "24"}
    assert created.json()["recipient_roles"] == ["organisation_admin"]
    changed = client.patch(
        f"{API}/alert-rules/nguong", headers=admin.headers, json={"enabled": False}
    )
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    listed = client.get(f"{API}/alert-rules", headers=admin.headers).json()
    assert [rule["code"] for rule in listed] == ["nguong"]
    gone = client.delete(f"{API}/alert-rules/nguong", headers=admin.headers)
    assert gone.status_code == 204
    assert client.get(f"{API}/alert-rules/nguong", headers=admin.headers).status_code == 404


def test_officials_without_the_catalogue_role_are_refused(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    officer = make_official(Role.OFFICER, "ubnd-tinh")
    refused = client.post(f"{API}/alert-rules", headers=officer.headers, json=_body())
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/alerts").status_code == 401


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"kind": "sometimes"}, 422),
        ({"indicator_code": "khong-co"}, 422),
        ({"operator": None}, 422),
        ({"threshold": "nan"}, 422),
        ({"period": "2025-13"}, 422),
        ({"period": "x" * 11}, 422),
        ({"scope_unit": {"unit_set": "legacy", "code": "24"}}, 422),
        ({"scope_unit": {"unit_set": "current", "code": "99999"}}, 422),
        ({"scope_level": "district"}, 422),
        ({"cooldown_hours": -1}, 422),
        ({"recipient_roles": ["king"]}, 422),
        ({"code": "Có dấu"}, 422),
        ({"extra": 1}, 422),
    ],
)
def test_odd_rules_are_refused_with_a_problem_not_a_500(
    client: TestClient, admin: Official, fields: dict[str, Any], status: int
) -> None:
    answer = client.post(f"{API}/alert-rules", headers=admin.headers, json=_body(**fields))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_duplicate_code_is_a_conflict(client: TestClient, admin: Official) -> None:
    assert client.post(f"{API}/alert-rules", headers=admin.headers, json=_body()).status_code == 201
    again = client.post(
        f"{API}/alert-rules", headers={**admin.headers, "Accept-Language": "vi"}, json=_body()
    )
    assert again.status_code == 409
    assert "Đã có quy tắc cảnh báo nguong" in again.text


def test_alerts_are_listed_with_history_and_filters(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    add_rule(sessions, cooldown_hours=0)
    _evaluate(sessions)
    record(sessions, [(VIET_YEN, "2025", 52)])
    _evaluate(sessions)
    record(sessions, [(VIET_YEN, "2025", 43)])
    _evaluate(sessions)
    every = client.get(f"{API}/alerts", headers=admin.headers).json()
    assert every["total"] == 2
    assert [(a["state"], a["value_seen"]) for a in every["items"]] == [
        ("open", 43.0),
        ("resolved", 45.0),
    ]
    first = every["items"][1]
    assert first["unit"] == {"unit_set": "current", "code": VIET_YEN}
    assert first["resolved_at"] is not None and first["indicator_code"] == INDICATOR
    open_only = client.get(f"{API}/alerts?state=open&unit={VIET_YEN}", headers=admin.headers)
    assert open_only.json()["total"] == 1
    assert client.get(f"{API}/alerts?unit={DA_MAI}", headers=admin.headers).json()["total"] == 0
    province = client.get(f"{API}/alerts?unit=24", headers=admin.headers).json()
    assert province["total"] == 2  # the province's and its communes' alerts
    other = client.get(f"{API}/alerts?indicator=khac", headers=admin.headers).json()
    assert other["total"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "state=maybe",
        "unit=99999",
        "unit=" + "1" * 17,
        "indicator=" + "x" * 65,
        "limit=0",
        "limit=100000",
        "offset=-1",
        "unit=%00",
    ],
)
def test_odd_filters_are_a_4xx(client: TestClient, admin: Official, query: str) -> None:
    answer = client.get(f"{API}/alerts?{query}", headers=admin.headers)
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/alert-rules/khong-co", {"enabled": True}),
        ("PATCH", "/alert-rules/nguong", {"cooldown_hours": "lâu"}),
        ("PATCH", "/alert-rules/nguong", {"operator": "~"}),
        ("DELETE", "/alert-rules/" + "x" * 65, None),
    ],
)
def test_odd_changes_are_a_4xx(
    client: TestClient, admin: Official, method: str, path: str, body: Any
) -> None:
    client.post(f"{API}/alert-rules", headers=admin.headers, json=_body())
    answer = client.request(method, f"{API}{path}", headers=admin.headers, json=body)
    assert 400 <= answer.status_code < 500, answer.text


def test_the_list_stays_flat_as_alerts_grow(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    add_rule(sessions)
    _evaluate(sessions)

    def fetch() -> None:
        assert client.get(f"{API}/alerts", headers=admin.headers).status_code == 200

    def grow() -> None:
        add_rule(sessions, code="nguong-2", kind="threshold", operator=">", threshold=1)
        add_rule(sessions, code="nguong-3", kind="threshold", operator=">", threshold=2)
        _evaluate(sessions)

    before, after = query_budget.flat(fetch, grow, budget=12)
    assert 0 < before == after


def test_the_rules_list_and_the_alert_pages_stay_flat_as_rules_and_alerts_grow(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """Issue 11 item 4 for the lists added with the alerts: the rules' list in the API and the
    alert and rule pages of the portal send as many statements for many rows as for few."""
    add_rule(sessions)
    _evaluate(sessions)
    log_in(client, admin.username)

    def fetch(path: str, headers: dict[str, str] | None = None) -> Callable[[], None]:
        def get() -> None:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, answer.text

        return get

    def grow() -> None:
        add_rule(sessions, code="nguong-2", kind="threshold", operator=">", threshold=1)
        add_rule(sessions, code="nguong-3", kind="threshold", operator=">", threshold=2)
        _evaluate(sessions)

    counts = query_budget.flat_each(
        {
            "GET /api/v1/monitoring/alert-rules": fetch(f"{API}/alert-rules", admin.headers),
            "/monitoring/alerts": fetch("/monitoring/alerts"),
            "/monitoring/alerts/rules": fetch("/monitoring/alerts/rules"),
        },
        grow,
        {
            "GET /api/v1/monitoring/alert-rules": 7,  # 5 on SQLite
            "/monitoring/alerts": 9,  # 7
            "/monitoring/alerts/rules": 8,  # 6
        },
    )
    assert all(0 < before == after for before, after in counts.values()), counts
