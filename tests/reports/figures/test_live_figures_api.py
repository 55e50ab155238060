"""The new kinds through the API of the app (whose factory registers the reports domain's
figures with monitoring), on both databases: an alert rule of kind ``reports_late_share``
(no indicator, a window) and a dashboard panel of kind ``field_reports`` are accepted,
read back and computed; bad settings are 422 problems in both languages; officials without
the role are refused as before."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from tests.reports.conftest import OTHER_COMMUNE, WARD
from tests.reports.figures.test_live_figures import Desk
from tinhso.core.db import utcnow
from tinhso.monitoring import field_reports
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.reports.conftest import ReportsWorld

RULES = "/api/v1/monitoring/alert-rules"
DASHBOARDS = "/api/v1/monitoring/dashboards"

pytestmark = pytest.mark.usefixtures("reports_world")


def test_the_app_registers_the_reports_figures(client: TestClient) -> None:
    assert field_reports.provider() is not None


def test_an_admin_adds_a_late_share_rule_and_odd_ones_are_refused(
    client: TestClient, admin: Official, make_official: MakeOfficial, reports_world: ReportsWorld
) -> None:
    body = {
        "code": "tre-han",
        "name_vi": "Phản ánh trễ hạn trên 30%",
        "kind": "reports_late_share",
        "scope_unit": {"unit_set": "current", "code": "24"},
        "scope_level": "commune",
        "threshold": 30,
        "window_days": 30,
    }
    created = client.post(RULES, headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["kind"], out["indicator_code"], out["window_days"]) == (
        "reports_late_share",
        None,
        30,
    )
    listed = client.get(RULES, headers=admin.headers).json()
    assert [r["code"] for r in listed] == ["tre-han"]
    changed = client.patch(f"{RULES}/tre-han", headers=admin.headers, json={"window_days": None})
    assert changed.status_code == 200 and changed.json()["window_days"] is None
    for odd, field in (
        ({"threshold": 150}, "threshold"),
        ({"indicator_code": "khong-co"}, "indicator_code"),
        ({"window_days": 0}, "window_days"),
        ({"kind": "reports_late_share_x"}, "kind"),
    ):
        refused = client.post(RULES, headers=admin.headers, json=body | {"code": "x"} | odd)
        assert refused.status_code == 422, (odd, refused.text)
        problem = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert any(field in str(e.get("field")) for e in problem["errors"]), problem
    officer = make_official(Role.OFFICER, reports_world.ward_org)
    assert client.post(RULES, headers=officer.headers, json=body).status_code == 403
    alerts = client.get("/api/v1/monitoring/alerts", headers=admin.headers)
    assert alerts.status_code == 200


def test_a_dashboard_with_a_field_reports_panel_for_the_province_and_a_commune(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    desk = Desk(sessions, admin.username)
    now = utcnow() - timedelta(minutes=1)
    answered = desk.submit(WARD, now)[0]
    desk.answer(answered, now)
    desk.submit(OTHER_COMMUNE, now)
    created = client.post(
        DASHBOARDS,
        headers=admin.headers,
        json={
            "slug": "phan-anh",
            "title_vi": "Phản ánh",
            "unit": "24",
            "panels": [{"kind": "field_reports", "settings": {"months": 4}}],
        },
    )
    assert created.status_code == 201, created.text
    viewer = make_official(Role.VIEWER, "ubnd-bac-ninh")
    whole = client.get(f"{DASHBOARDS}/phan-anh", headers=viewer.headers).json()["panels"][0]
    assert whole["kind"] == "field_reports" and whole["error"] is None
    assert whole["title_vi"] == "Phản ánh hiện trường"
    assert len(whole["data"]["trend"]) == 4
    current = whole["data"]["current"]
    assert (current["received"], current["handled"], current["open"]) == (2, 1, 1)
    one = client.get(f"{DASHBOARDS}/phan-anh", headers=viewer.headers, params={"unit": WARD})
    data = one.json()["panels"][0]["data"]
    assert data["unit"]["code"] == WARD
    assert (data["current"]["received"], data["current"]["open"]) == (1, 0)
    bad = client.put(
        f"{DASHBOARDS}/phan-anh/panels",
        headers=admin.headers,
        json={"panels": [{"kind": "field_reports", "settings": {"months": 99, "x": 1}}]},
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"panels.0.settings.months", "panels.0.settings.x"}, fields


def test_without_the_reports_figures_the_panel_says_why(
    client: TestClient, admin: Official
) -> None:
    created = client.post(
        DASHBOARDS,
        headers=admin.headers,
        json={"slug": "p", "title_vi": "P", "unit": "24", "panels": [{"kind": "field_reports"}]},
    )
    assert created.status_code == 201, created.text
    previous = field_reports.register(None)
    try:
        panel = client.get(f"{DASHBOARDS}/p", headers=admin.headers).json()["panels"][0]
    finally:
        field_reports.register(previous)
    assert panel["data"] is None
    assert panel["error"]["en"].startswith("No field-report figures")
