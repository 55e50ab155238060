"""The dashboard pages, on both databases: every official reads the list, a dashboard (its
panels' figures in Vietnamese number format, or English) and the wall screen; the editor adds,
reorders, changes and removes panels for platform and province admins, with each refused
setting named beside its field, and tells anyone else who may; odd input never answers 500."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.portal.monitoring.support import load_demo
from tests.portal.test_pages import form_token, log_in
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.portal.rendering import LANGUAGE_COOKIE
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

FIBRE, PLAN = "households_fibre_rate", "bg_kh_324"
BAC_GIANG = {"unit_set": "legacy", "code": "24"}


@pytest.fixture
def boards(sessions: sessionmaker[Session], province_tree: dict[str, str]) -> None:
    load_demo(sessions)
    with sessions.begin() as session:
        for slug, title in (("tong-quan-tinh", "Tổng quan tỉnh"), ("thu-hai", "Bảng thứ hai")):
            dashboard_service.create(
                session,
                DashboardCreate(
                    slug=slug,
                    title_vi=title,
                    title_en="Overview" if slug == "tong-quan-tinh" else "Second",
                    unit="24",
                    rotation_seconds=10,
                    panels=[
                        PanelIn(
                            kind=PanelKind.KPI, settings={"indicator": FIBRE, "unit": BAC_GIANG}
                        ),
                        PanelIn(
                            kind=PanelKind.STATUS_COUNTS, settings={"plan": PLAN, "as_of": 2024}
                        ),
                        PanelIn(
                            kind=PanelKind.TIMESERIES,
                            settings={"indicator": FIBRE, "unit": BAC_GIANG},
                        ),
                        PanelIn(
                            kind=PanelKind.RANKING,
                            settings={"indicator": FIBRE, "level": "province"},
                        ),
                        PanelIn(kind=PanelKind.MAP, settings={"indicator": FIBRE}),
                        PanelIn(kind=PanelKind.EXCHANGE, settings={}),
                    ],
                ),
            )


@pytest.mark.usefixtures("boards")
def test_an_official_reads_the_dashboards_in_vietnamese_and_english(
    client: TestClient, make_official: MakeOfficial
) -> None:
    viewer = make_official(Role.VIEWER, "so-tttt")
    log_in(client, viewer.username)
    listed = client.get("/monitoring/dashboards")
    assert listed.status_code == 200
    assert "Tổng quan tỉnh" in listed.text and "Bảng thứ hai" in listed.text
    assert "Sửa các ô" not in listed.text  # no editing offered to a viewer
    page = client.get("/monitoring/dashboards/tong-quan-tinh")
    assert page.status_code == 200, page.text
    assert "Bảng điều khiển" in page.text
    assert "79" in page.text and "Tiến độ kế hoạch" in page.text
    assert re.search(r"Chỉ tiêu \d{4}", page.text)  # the KPI's target with its year
    assert "data-dash-chart" in page.text and '"type": "timeseries"' in page.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    english = client.get("/monitoring/dashboards/tong-quan-tinh")
    assert "Overview" in english.text and "Plan progress" in english.text
    assert "Tổng quan tỉnh" not in english.text.split("<main", 1)[1]


@pytest.mark.usefixtures("boards")
def test_the_wall_screen_holds_every_dashboard_asked_for_with_the_stale_notice_ready(
    client: TestClient, make_official: MakeOfficial
) -> None:
    viewer = make_official(Role.VIEWER, "so-tttt")
    log_in(client, viewer.username)
    wall = client.get("/monitoring/wall?d=tong-quan-tinh,thu-hai&refresh=30")
    assert wall.status_code == 200, wall.text
    assert wall.text.count('class="wall-screen"') == 2
    assert 'data-refresh="30"' in wall.text and 'data-seconds="10"' in wall.text
    assert "Dữ liệu chưa cập nhật từ {time}" in wall.text
    assert "main-nav" not in wall.text  # no navigation chrome
    for odd in ["d=khong-co", "d=%00", "refresh=1", "refresh=abc", "d=" + "a," * 300]:
        assert client.get(f"/monitoring/wall?{odd}").status_code in {200, 404, 422}, odd


@pytest.mark.usefixtures("boards")
def test_an_official_without_the_role_is_told_who_may_edit(
    client: TestClient, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    log_in(client, officer.username)
    page = client.get("/monitoring/dashboards/tong-quan-tinh/edit")
    assert page.status_code == 403
    assert "Chỉ quản trị viên nền tảng hoặc quản trị viên UBND tỉnh" in page.text
    token = form_token(client.get("/monitoring/dashboards"))
    added = client.post(
        "/monitoring/dashboards/tong-quan-tinh/panels",
        data={"csrf_token": token, "kind": "exchange"},
    )
    assert added.status_code == 403


@pytest.mark.usefixtures("boards")
def test_a_province_admin_adds_reorders_changes_and_removes_panels(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    manager = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh")
    log_in(client, manager.username)
    edit = client.get("/monitoring/dashboards/tong-quan-tinh/edit")
    assert edit.status_code == 200, edit.text
    token = form_token(edit)
    url = "/monitoring/dashboards/tong-quan-tinh/panels"
    refused = client.post(url, data={"csrf_token": token, "kind": "kpi"})
    assert refused.status_code == 422
    assert 'id="new-indicator-error">Bắt buộc nhập<' in refused.text
    added = client.post(
        url, data={"csrf_token": token, "kind": "kpi", "indicator": FIBRE, "plan": PLAN},
        follow_redirects=False,
    )  # fmt: skip
    assert added.status_code == 303, added.text
    with sessions.begin() as session:
        board = dashboard_service.get(session, "tong-quan-tinh")
        panels = dashboard_service.panels(session, board)
        new, first = panels[-1].id, panels[0].id
    assert len(panels) == 7 and panels[-1].settings == {
        "indicator": FIBRE,
        "period": None,
        "unit": None,
    }
    bad = client.post(
        f"{url}/{new}",
        data={"csrf_token": token, "indicator": FIBRE, "period": "2024-Q7", "unit_code": "99999"},
    )
    assert bad.status_code == 422
    assert f'id="p{new}-period-error"' in bad.text and f'id="p{new}-unit_code-error"' in bad.text
    good = client.post(
        f"{url}/{new}",
        data={"csrf_token": token, "title_vi": "Cáp quang", "indicator": FIBRE, "period": "2023",
              "unit_code": "24", "unit_set": "legacy"},
        follow_redirects=False,
    )  # fmt: skip
    assert good.status_code == 303
    moved = client.post(
        f"{url}/{new}/move", data={"csrf_token": token, "direction": "up"}, follow_redirects=False
    )
    assert moved.status_code == 303
    removed = client.post(
        f"{url}/{first}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    with sessions.begin() as session:
        panels = dashboard_service.panels(session, dashboard_service.get(session, "tong-quan-tinh"))
        assert [p.kind for p in panels] == [
            "status_counts", "timeseries", "ranking", "map", "kpi", "exchange"
        ]  # fmt: skip
        assert panels[4].title_vi == "Cáp quang"
        assert panels[4].settings["unit"] == {"unit_set": "legacy", "code": "24"}
    for odd in [f"{url}/999999/delete", f"{url}/0/move", f"{url}/abc", f"{url}/{new}/move"]:
        answer = client.post(odd, data={"csrf_token": token, "direction": "sideways"})
        assert answer.status_code in {200, 303, 404, 422}, odd
    created = client.post(
        "/monitoring/dashboards",
        data={"csrf_token": token, "slug": "Sai Ten", "title_vi": "", "unit": "24"},
    )
    assert created.status_code == 422
    assert 'id="new-slug-error"' in created.text and 'id="new-title_vi-error"' in created.text
    made = client.post(
        "/monitoring/dashboards",
        data={"csrf_token": token, "slug": "moi", "title_vi": "Mới", "unit": "24",
              "rotation_seconds": "20"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/monitoring/dashboards/moi/edit"


@pytest.mark.usefixtures("boards")
def test_odd_dashboard_addresses_never_answer_500(client: TestClient, admin: Official) -> None:
    log_in(client, admin.username)
    for path in [
        "/monitoring/dashboards/khong-co",
        "/monitoring/dashboards/%00",
        "/monitoring/dashboards/TONG",
        "/monitoring/dashboards/tong-quan-tinh?unit=01",
        "/monitoring/dashboards/tong-quan-tinh?unit=%00",
        "/monitoring/dashboards/tong-quan-tinh?unit=07777",
        "/monitoring/dashboards/khong-co/edit",
    ]:
        assert client.get(path).status_code in {200, 404, 422}, path
