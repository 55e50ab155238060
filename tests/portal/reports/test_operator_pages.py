"""Operators' page (keys and routing) and moderation, on both databases: platform admins
issue and revoke Open311 keys and route categories; a hidden report disappears from every
public view (page, list, Open311) but stays in the officers' queue."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from PIL import Image

from tests.portal.test_pages import form_token, log_in
from tinhso.registry.models import Role
from tinhso.registry.organisations import organisation_service
from tinhso.reports.models import Report
from tinhso.reports.open311 import keys

from .test_citizen_pages import _send

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.reports.conftest import ReportsWorld


def test_operators_issue_keys_and_route(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
) -> None:
    officer = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org)
    log_in(client, officer.username)
    assert client.get("/reports/operators").status_code == 403
    client.post("/logout", data={"csrf_token": form_token(client.get("/reports/queue"))})
    log_in(client, admin.username)
    page = client.get("/reports/operators")
    assert page.status_code == 200
    token = form_token(page)
    issued = client.post(
        "/reports/operators/keys", data={"csrf_token": token, "name": "Tổng đài 1022"}
    )
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    key = re.search(r'id="issued-key">([^<]+)<', issued.text).group(1)  # type: ignore[union-attr]
    with sessions() as session:
        record = keys.valid_key(session, key)
        assert record is not None and record.name == "Tổng đài 1022"
        key_id = record.id
    twice = client.post(
        "/reports/operators/keys", data={"csrf_token": token, "name": "Tổng đài 1022"}
    )
    assert twice.status_code == 409
    assert (
        client.post(
            f"/reports/operators/keys/{key_id}/revoke",
            data={"csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    with sessions() as session:
        assert keys.valid_key(session, key) is None
    bad = client.post(
        "/reports/operators/routes",
        data={"csrf_token": token, "organisation": reports_world.health},
    )
    assert bad.status_code == 422
    routed = client.post(
        "/reports/operators/routes",
        data={
            "csrf_token": token,
            "category": "dien-nuoc",
            "unit_code": "07228",
            "organisation": reports_world.health,
        },
        follow_redirects=False,
    )
    assert routed.status_code == 303
    assert "Sở Y tế tỉnh Bắc Ninh" in client.get("/reports/operators").text
    client.cookies.clear()
    assert _send(client, unit_code="07228").status_code == 201
    with sessions() as session:
        [report] = session.query(Report).all()
        assert report.organisation_id == organisation_service.get(session, reports_world.health).id


def test_a_hidden_report_leaves_every_public_view(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
) -> None:
    sent = _send(client)
    code = re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    officer = make_official(Role.OFFICER, reports_world.ward_org)
    head = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org)
    log_in(client, officer.username)
    token = form_token(client.get(f"/reports/{code}/handle"))
    refused = client.post(
        f"/reports/{code}/moderate",
        data={"csrf_token": token, "hidden": "1", "note": "Lộ thông tin cá nhân"},
    )
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    log_in(client, head.username)
    token = form_token(client.get(f"/reports/{code}/handle"))
    assert (
        client.post(
            f"/reports/{code}/moderate", data={"csrf_token": token, "hidden": "1", "note": ""}
        ).status_code
        == 422
    )
    hidden = client.post(
        f"/reports/{code}/moderate",
        data={"csrf_token": token, "hidden": "1", "note": "Lộ thông tin cá nhân"},
        follow_redirects=False,
    )
    assert hidden.status_code == 303
    assert code in client.get("/reports/queue").text  # the officers still see it
    client.cookies.clear()
    assert client.get(f"/reports/{code}").status_code == 404
    assert f'/reports/{code}"' not in client.get("/reports").text
    assert client.get(f"/open311/v2/requests/{code}.json").status_code == 404
    assert code not in client.get("/open311/v2/requests.json").text


def test_staff_cover_an_area_and_the_public_sees_only_the_covered_copy(
    client: TestClient, reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    from tests.reports.media.test_photos import _photo_with_gps  # noqa: PLC0415

    sent = _send(client, files=[("photos", ("a.jpg", _photo_with_gps(400, 300), "image/jpeg"))])
    code = re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    track = client.get(f"/reports/{code}").text
    photo_id = re.search(r'src="/reports/photos/(\d+)"', track).group(1)  # type: ignore[union-attr]
    assert (
        client.get(f"/reports/photos/{photo_id}/original", follow_redirects=False).status_code
        == 303
    )

    stranger = make_official(Role.OFFICER, reports_world.outsider)
    log_in(client, stranger.username)
    assert client.get(f"/reports/photos/{photo_id}/original").status_code == 403
    client.cookies.clear()
    officer = make_official(Role.OFFICER, reports_world.ward_org)
    log_in(client, officer.username)
    token = form_token(client.get(f"/reports/{code}/handle"))
    area = {"left": "25", "top": "25", "width": "50", "height": "50"}
    bad = client.post(
        f"/reports/photos/{photo_id}/redact", data={"csrf_token": token, **area, "width": "0"}
    )
    assert bad.status_code == 422
    covered = client.post(
        f"/reports/photos/{photo_id}/redact",
        data={"csrf_token": token, **area},
        follow_redirects=False,
    )
    assert covered.status_code == 303
    original = Image.open(io.BytesIO(client.get(f"/reports/photos/{photo_id}/original").content))
    client.cookies.clear()
    public = Image.open(io.BytesIO(client.get(f"/reports/photos/{photo_id}").content))
    middle = (public.width // 2, public.height // 2)

    def brightness(image: Image.Image, at: tuple[int, int]) -> int:
        pixel = image.convert("RGB").getpixel(at)
        assert isinstance(pixel, tuple)
        return max(pixel)

    assert brightness(public, middle) < 20  # black where covered
    assert brightness(original, middle) > 100  # the original is untouched
    assert brightness(public, (5, 5)) > 100  # the rest stays


def test_bulk_actions_are_all_or_nothing(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
) -> None:
    codes = []
    for _ in range(3):
        sent = _send(client, unit_code="", address="Chợ đầu mối, không rõ xã")
        codes.append(re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1))  # type: ignore[union-attr]
    officer = make_official(Role.OFFICER, reports_world.ward_org)
    log_in(client, officer.username)
    assert client.get(f"/reports/queue?organisation={reports_world.health}").status_code == 403
    client.cookies.clear()
    log_in(client, admin.username)
    triage = client.get("/reports/queue")
    assert all(code in triage.text for code in codes)
    token = form_token(triage)
    moved = client.post(
        "/reports/queue/bulk",
        data={
            "csrf_token": token,
            "code": codes[:2],
            "action": "reroute",
            "organisation_code": reports_world.ward_org,
            "note": "Thuộc phường Việt Yên",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303 and "bulk=2" in moved.headers["location"]
    # The third cannot be accepted (no organisation yet): nothing changes, the page says which.
    refused = client.post(
        "/reports/queue/bulk",
        data={"csrf_token": token, "code": [codes[2]], "action": "accept"},
    )
    assert refused.status_code in (409, 422) and codes[2] in refused.text
    with sessions() as session:
        ward = organisation_service.get(session, reports_world.ward_org).id
        found = {r.code: r.organisation_id for r in session.query(Report)}
    assert found == {codes[0]: ward, codes[1]: ward, codes[2]: None}


def test_a_moderator_edits_the_text_and_the_old_one_stays_for_staff(
    client: TestClient, reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    sent = _send(client, description="Ông Nguyễn Văn B số 0912345678 đổ rác")
    code = re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    officer = make_official(Role.OFFICER, reports_world.ward_org)
    head = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org)
    log_in(client, officer.username)
    token = form_token(client.get(f"/reports/{code}/handle"))
    data = {"csrf_token": token, "description": "Có người đổ rác", "note": "Lộ số điện thoại"}
    assert client.post(f"/reports/{code}/edit", data=data).status_code == 403
    client.cookies.clear()
    log_in(client, head.username)
    token = form_token(client.get(f"/reports/{code}/handle"))
    missing = {"csrf_token": token, "description": "Có người đổ rác", "note": ""}
    assert client.post(f"/reports/{code}/edit", data=missing).status_code == 422
    data["csrf_token"] = token
    assert (
        client.post(f"/reports/{code}/edit", data=data, follow_redirects=False).status_code == 303
    )
    staff = client.get(f"/reports/{code}/handle").text
    assert "0912345678" in staff and "Lộ số điện thoại" in staff  # in the internal timeline
    client.cookies.clear()
    public = client.get(f"/reports/{code}").text
    assert "Có người đổ rác" in public and "0912345678" not in public
    assert "0912345678" not in client.get(f"/open311/v2/requests/{code}.json?extensions=true").text
