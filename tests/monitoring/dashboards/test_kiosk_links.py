"""Kiosk links, on both databases: the token opens its link's dashboards for its unit and
nothing else; only the token's SHA-256 is stored; a revocation or an expiry ends it on the
next request (410 with the reason in both languages); the API lists, creates and revokes for
the officials who edit dashboards; the signed-out wall screen answers with no-referrer and
no-store, refuses another dashboard or unit, and the token never reaches the request log."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.portal.monitoring.support import load_demo
from tests.portal.test_pages import form_token, log_in
from tinhso.app import create_app
from tinhso.core.db import utcnow
from tinhso.core.errors import Forbidden, Gone, InvalidInput, Unauthenticated
from tinhso.monitoring.dashboards.kiosk import kiosk_service
from tinhso.monitoring.dashboards.models import KioskLink
from tinhso.monitoring.dashboards.schemas import (
    DashboardCreate,
    KioskLinkCreate,
    PanelIn,
    PanelKind,
)
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tinhso.core.config import Settings

URL = "/api/v1/monitoring/kiosk-links"
VIET_YEN, DA_MAI = "07777", "07228"
PLAN = "bg_kh_324"


@pytest.fixture
def boards(sessions: sessionmaker[Session], province_tree: dict[str, str]) -> None:
    load_demo(sessions)
    with sessions.begin() as session:
        for slug, title in (
            ("tong-quan", "Tổng quan tỉnh"),
            ("tien-do", "Tiến độ"),
            ("khac", "Khác"),
        ):
            dashboard_service.create(
                session,
                DashboardCreate(
                    slug=slug,
                    title_vi=title,
                    unit="24",
                    panels=[
                        PanelIn(
                            kind=PanelKind.STATUS_COUNTS, settings={"plan": PLAN, "as_of": 2024}
                        ),
                        PanelIn(kind=PanelKind.EXCHANGE, settings={}),
                    ],
                ),
            )


def _create(session: Session, **changes: Any) -> tuple[KioskLink, str]:
    data = {
        "label": "Phòng họp UBND tỉnh",
        "dashboards": ["tong-quan", "tien-do"],
        "unit": VIET_YEN,
        "refresh_seconds": 30,
        **changes,
    }
    return kiosk_service.create(session, KioskLinkCreate.model_validate(data), None)


# -- the service ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("boards")
def test_a_token_opens_its_dashboards_for_its_unit_and_only_its_digest_is_stored(
    session: Session,
) -> None:
    _link, token = _create(session)
    session.commit()
    assert len(token) == 43
    stored = session.execute(text("SELECT * FROM monitoring_kiosk_link")).mappings().one()
    assert token not in json.dumps({k: str(v) for k, v in stored.items()})
    assert stored["token_digest"] == hashlib.sha256(token.encode()).hexdigest()
    access = kiosk_service.open(session, token)
    assert [d.slug for d in access.dashboards] == ["tong-quan", "tien-do"]
    assert access.unit.code == VIET_YEN
    assert access.link.last_used_at is not None
    views = kiosk_service.views(session, access)
    assert [v.selected.code for v in views] == [VIET_YEN, VIET_YEN]
    # The chosen unit reaches the panels: plan progress of the commune, exchanges of its
    # organisations (none), not the province's.
    counts = views[0].panels[0].data
    assert counts is not None and counts["unit"]["code"] == VIET_YEN
    exchange = views[0].panels[1].data
    assert exchange is not None and exchange["by_organisations"] == []


@pytest.mark.usefixtures("boards")
def test_unknown_revoked_and_expired_tokens_open_nothing(session: Session) -> None:
    link, token = _create(session)
    for wrong in (None, "", "x" * 43, token[:-1], token + "A", token.upper()):
        with pytest.raises(Unauthenticated):
            kiosk_service.open(session, wrong)
    kiosk_service.open(session, token)
    kiosk_service.revoke(session, link, None)
    first = link.revoked_at
    with pytest.raises(Gone) as revoked:
        kiosk_service.open(session, token)
    assert revoked.value.message.vi == "Liên kết trình chiếu đã bị thu hồi"
    assert revoked.value.status == 410
    kiosk_service.revoke(session, link, None)
    assert link.revoked_at == first  # the first revocation stands
    other, other_token = _create(session, expires_at=utcnow() + timedelta(hours=1))
    kiosk_service.open(session, other_token)
    other.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    with pytest.raises(Gone) as expired:
        kiosk_service.open(session, other_token)
    assert expired.value.message.en == "This kiosk link has expired"
    assert [found.state for found in kiosk_service.all(session)] == ["expired", "revoked"]


@pytest.mark.usefixtures("boards")
def test_a_screen_cannot_widen_its_link(session: Session) -> None:
    _link, token = _create(session)
    access = kiosk_service.open(session, token)
    kiosk_service.check_scope(access, ["tien-do"], VIET_YEN)
    kiosk_service.check_scope(access, None, None)
    with pytest.raises(Forbidden):
        kiosk_service.check_scope(access, ["khac"], None)
    with pytest.raises(Forbidden):
        kiosk_service.check_scope(access, None, DA_MAI)
    with pytest.raises(Forbidden):
        kiosk_service.check_scope(access, None, "24")


@pytest.mark.usefixtures("boards")
def test_a_link_is_checked_when_created(session: Session) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dashboards": ["khong-co"]}, "dashboards.0"),
        ({"dashboards": ["tong-quan", "tong-quan"]}, "dashboards"),
        ({"unit": "01"}, "unit"),  # Hà Nội is not inside Bắc Ninh
        ({"unit": "99999"}, "unit"),
        ({"expires_at": utcnow() - timedelta(days=1)}, "expires_at"),
    ]
    for changes, field in cases:
        with pytest.raises(InvalidInput) as refused:
            _create(session, **changes)
        assert field in [e.field for e in refused.value.errors], (changes, refused.value.errors)
    assert session.scalars(select(KioskLink)).all() == []


# -- the API --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("boards")
def test_the_api_creates_lists_and_revokes_for_dashboard_editors_only(
    client: TestClient, admin: Official, make_official: MakeOfficial
) -> None:
    body = {"label": "Phòng họp", "dashboards": ["tong-quan"], "unit": VIET_YEN}
    viewer = make_official(Role.VIEWER, "so-tttt")
    assert client.post(URL, headers=viewer.headers, json=body).status_code == 403
    assert client.get(URL, headers=viewer.headers).status_code == 403
    created = client.post(URL, headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["url"].startswith("http") and "/monitoring/kiosk?k=" in made["url"]
    token = made["url"].split("k=", 1)[1]
    assert (made["state"], made["created_by"], made["refresh_seconds"]) == (
        "active",
        "root-admin",
        60,
    )
    listed = client.get(URL, headers=admin.headers)
    assert listed.status_code == 200
    assert token not in listed.text and "url" not in listed.json()[0]
    assert client.post(f"{URL}/{made['id']}/revoke", headers=viewer.headers).status_code == 403
    revoked = client.post(f"{URL}/{made['id']}/revoke", headers=admin.headers)
    assert revoked.status_code == 200
    assert (revoked.json()["state"], revoked.json()["revoked_by"]) == ("revoked", "root-admin")
    assert client.post(f"{URL}/999999/revoke", headers=admin.headers).status_code == 404
    odd = client.post(URL, headers=admin.headers, json={**body, "dashboards": []})
    assert odd.status_code == 422
    odd = client.post(URL, headers=admin.headers, json={**body, "expires_at": "2030-01-01T00:00"})
    assert odd.status_code == 422  # no time zone: refused, not guessed


# -- the wall screen, signed out ------------------------------------------------------------------


@pytest.mark.usefixtures("boards")
def test_the_kiosk_screen_opens_signed_out_and_ends_when_revoked(
    client: TestClient, admin: Official
) -> None:
    made = client.post(
        URL,
        headers=admin.headers,
        json={"label": "Phòng họp", "dashboards": ["tong-quan", "tien-do"], "unit": VIET_YEN},
    ).json()
    token = made["url"].split("k=", 1)[1]
    page = client.get("/monitoring/kiosk", params={"k": token})
    assert page.status_code == 200, page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "Tổng quan tỉnh" in page.text and "Tiến độ" in page.text
    assert "Phường Việt Yên" in page.text or "Việt Yên" in page.text
    assert 'data-kiosk="1"' in page.text and "csrf_token" not in page.text
    used = client.get(URL, headers=admin.headers).json()[0]
    assert used["last_used_at"] is not None  # committed with the screen's request
    # Not another dashboard, not another unit, not without or with a wrong token.
    assert client.get("/monitoring/kiosk", params={"k": token, "d": "khac"}).status_code == 403
    assert client.get("/monitoring/kiosk", params={"k": token, "unit": "24"}).status_code == 403
    assert client.get("/monitoring/kiosk").status_code == 401
    assert client.get("/monitoring/kiosk", params={"k": "A" * 43}).status_code == 401
    # The token is no key to anything else.
    for path in ("/monitoring/dashboards", "/monitoring/wall", "/monitoring/kiosk-links"):
        other = client.get(path, params={"k": token}, follow_redirects=False)
        assert other.status_code in {302, 303} and "/login" in other.headers["location"], path
    assert client.get("/api/v1/monitoring/dashboards", params={"k": token}).status_code == 401
    assert client.post(f"{URL}/{made['id']}/revoke", params={"k": token}).status_code == 401
    client.post(f"{URL}/{made['id']}/revoke", headers=admin.headers)
    ended = client.get("/monitoring/kiosk", params={"k": token})
    assert ended.status_code == 410
    assert "Liên kết trình chiếu đã bị thu hồi" in ended.text
    assert ended.headers["referrer-policy"] == "no-referrer"
    assert ended.headers["cache-control"] == "no-store"


@pytest.mark.usefixtures("boards")
def test_the_token_never_reaches_the_request_log(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sessions.begin() as session:
        _link, token = _create(session)
    app = create_app(settings.model_copy(update={"log_level": "INFO"}), engine)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/monitoring/kiosk", params={"k": token}).status_code == 200
        assert client.get("/monitoring/kiosk", params={"k": token, "d": "khac"}).status_code == 403
    lines = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"logger": "tinhso.http"' in line
    ]
    kiosk = [line for line in lines if line.get("route") == "/monitoring/kiosk"]
    assert len(kiosk) == 2 and all(line["path"] == "/monitoring/kiosk" for line in kiosk)
    assert all(token not in json.dumps(line) for line in lines)


# -- the management page --------------------------------------------------------------------------


@pytest.mark.usefixtures("boards")
def test_the_page_creates_a_link_shown_once_lists_it_and_revokes_it(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    manager = make_official(platform_admin=True, username="quan-tri-trinh-chieu")
    log_in(client, manager.username)
    page = client.get("/monitoring/kiosk-links")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    refused = client.post(
        "/monitoring/kiosk-links",
        data={
            "csrf_token": form_token(page),
            "label": "",
            "unit": VIET_YEN,
            "dashboards": [],
            "expires": "32/13/2099",
        },
    )
    assert refused.status_code == 422
    assert 'id="new-label-error"' in refused.text and 'id="new-dashboards-error"' in refused.text
    assert 'id="new-expires-error"' in refused.text
    outside = client.post(
        "/monitoring/kiosk-links",
        data={
            "csrf_token": form_token(page),
            "label": "Phòng họp",
            "unit": "01",
            "dashboards": ["tong-quan"],
        },
    )
    assert outside.status_code == 422 and 'id="new-unit-error"' in outside.text
    created = client.post(
        "/monitoring/kiosk-links",
        data={
            "csrf_token": form_token(page),
            "label": "Phòng họp UBND tỉnh",
            "unit": VIET_YEN,
            "dashboards": ["tien-do", "tong-quan"],
            "refresh_seconds": "45",
            "expires": "31/12/2099",
        },
    )
    assert created.status_code == 200, created.text
    assert 'id="kiosk-url"' in created.text
    url = created.text.split('id="kiosk-url" class="kiosk-url" readonly value="', 1)[1]
    token = url.split('"', 1)[0].split("k=", 1)[1]
    with sessions.begin() as session:
        link = session.scalars(select(KioskLink)).one()
        assert link.dashboard_ids and link.refresh_seconds == 45
        assert link.expires_at is not None and link.expires_at.year == 2099
        assert link.created_by_id is not None
    listed = client.get("/monitoring/kiosk-links")
    assert token not in listed.text and "Phòng họp UBND tỉnh" in listed.text
    assert "tien-do, tong-quan" in listed.text and "31/12/2099" in listed.text
    revoked = client.post(
        f"/monitoring/kiosk-links/{link.id}/revoke", data={"csrf_token": form_token(listed)}
    )
    assert revoked.status_code == 200  # followed to the list
    assert client.get("/monitoring/kiosk", params={"k": token}).status_code == 410


@pytest.mark.usefixtures("boards")
def test_other_officials_are_told_who_may_manage_links(
    client: TestClient, make_official: MakeOfficial
) -> None:
    viewer = make_official(Role.VIEWER, "so-tttt", username="chi-xem-trinh-chieu")
    log_in(client, viewer.username)
    assert client.get("/monitoring/kiosk-links").status_code == 403
