"""Videos through the citizens' form on both databases: stored without metadata, seen by the
handling officials at once and by the public only once an official released them; a bad
video is refused next to its field and stores neither the report nor any file."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import av

from tests.portal.test_pages import form_token, log_in
from tests.reports.media.test_photos import _photo_with_gps
from tests.support.videos import OWNER, PLACE, phone_video
from tinhso.registry.models import Role
from tinhso.reports.models import Report, ReportPhoto, ReportVideo

from .test_citizen_pages import _send

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.reports.conftest import ReportsWorld


def _code(text: str) -> str:
    found = re.search(r'id="tracking-code">([^<]+)<', text)
    assert found is not None, text
    return found.group(1)


def test_a_video_is_seen_by_officials_first_and_by_the_public_once_released(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    form = client.get("/reports/new").text
    assert 'name="videos"' in form and "Video ngắn (tối đa 2)" in form
    sent = _send(client, files=[("videos", ("clip.mp4", phone_video(), "video/mp4"))])
    assert sent.status_code == 201, sent.text
    code = _code(sent.text)
    with sessions() as session:
        video = session.query(ReportVideo).one()
    public_page = client.get(f"/reports/{code}").text
    assert "/reports/videos/" not in public_page
    assert client.get(f"/reports/videos/{video.id}").status_code == 404
    assert client.get(f"/reports/videos/{video.id}/poster").status_code == 404
    anonymous = client.get(f"/reports/videos/{video.id}/original", follow_redirects=False)
    assert anonymous.status_code == 303

    stranger = make_official(Role.OFFICER, reports_world.outsider)
    log_in(client, stranger.username)
    assert client.get(f"/reports/videos/{video.id}/original").status_code == 403
    token = form_token(client.get("/reports/queue"))
    refused = client.post(f"/reports/videos/{video.id}/release", data={"csrf_token": token})
    assert refused.status_code == 403
    client.cookies.clear()

    officer = make_official(Role.OFFICER, reports_world.ward_org)
    log_in(client, officer.username)
    handle = client.get(f"/reports/{code}/handle")
    assert f"/reports/videos/{video.id}/original" in handle.text
    assert "Chỉ cán bộ xử lý phản ánh xem được video này." in handle.text
    staff_copy = client.get(f"/reports/videos/{video.id}/original")
    assert staff_copy.status_code == 200 and staff_copy.headers["content-type"] == "video/mp4"
    assert PLACE.encode() not in staff_copy.content and OWNER.encode() not in staff_copy.content
    released = client.post(
        f"/reports/videos/{video.id}/release",
        data={"csrf_token": form_token(handle)},
        follow_redirects=False,
    )
    assert released.status_code == 303
    assert "Người dân xem được video này từ" in client.get(f"/reports/{code}/handle").text
    client.cookies.clear()

    public_page = client.get(f"/reports/{code}").text
    assert f'src="/reports/videos/{video.id}"' in public_page
    public = client.get(f"/reports/videos/{video.id}")
    assert public.status_code == 200 and public.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(public.content)) as kept:
        assert "location" not in kept.metadata and "artist" not in kept.metadata
    poster = client.get(f"/reports/videos/{video.id}/poster")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"


def test_a_bad_video_stores_nothing(
    client: TestClient, app: FastAPI, reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    data_dir: Path = app.state.settings.data_dir
    refused = _send(
        client,
        files=[
            ("photos", ("a.jpg", _photo_with_gps(400, 300), "image/jpeg")),
            ("videos", ("clip.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 80, "video/mp4")),
        ],
    )
    assert refused.status_code == 422
    assert "không phải video đọc được" in refused.text
    assert 'aria-invalid="true"' in refused.text and 'id="rep-videos"' in refused.text
    three = _send(
        client, files=[("videos", (f"{n}.mp4", phone_video(), "video/mp4")) for n in "abc"]
    )
    assert three.status_code == 422 and "Tối đa 2 video." in three.text
    with sessions() as session:
        assert session.query(Report).count() == 0
        assert session.query(ReportPhoto).count() == 0
        assert session.query(ReportVideo).count() == 0
    leftovers = [p for p in (data_dir / "reports").rglob("*") if p.is_file()]
    assert leftovers == []
    # Where a stored report's files go: the check above looked in the right place.
    assert (
        _send(client, files=[("videos", ("ok.mp4", phone_video(), "video/mp4"))]).status_code == 201
    )
    assert [p.suffix for p in (data_dir / "reports").rglob("*") if p.is_file()] in (
        [".mp4", ".jpg"],
        [".jpg", ".mp4"],
    )
