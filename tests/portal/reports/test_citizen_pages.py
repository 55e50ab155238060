"""Citizens' pages on both databases: a report sent through the form (token, honeypot, rate
limit), its photo stored without metadata, its code and key shown once, the tracking page and
the rating; officers' queue and actions in the portal, refused to other organisations."""

from __future__ import annotations

import io
import json
import re
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image

from tests.conftest import TEST_SECRET
from tests.portal.test_pages import form_token, log_in
from tests.reports.media.test_photos import _photo_with_gps
from tinhso.monitoring.maps.boundaries import load_synthetic
from tinhso.portal.reports.citizen import SUBMISSIONS_PER_HOUR, signed_form_token
from tinhso.registry.models import Role
from tinhso.reports.models import Report, ReportPhoto, ReportState
from tinhso.reports.service import report_service

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.reports.conftest import ReportsWorld
    from tinhso.core.storage import FileStore

WARD = "07777"


def _aged_token(seconds: int = 10) -> str:
    return signed_form_token(TEST_SECRET.encode(), int(time.time()) - seconds)


def _send(client: TestClient, token: str | None = None, files: object = None, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "form_token": token or _aged_token(),
        "category": "dien-nuoc",
        "description": "Cột điện nghiêng sắp đổ",
        "unit_code": WARD,
        **fields,
    }
    return client.post("/reports/new", data=data, files=files, follow_redirects=False)  # type: ignore[arg-type]


def test_a_citizen_sends_follows_and_rates(
    client: TestClient,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    make_official: MakeOfficial,
    tmp_path: Path,
) -> None:
    page = client.get("/reports/new")
    assert page.status_code == 200 and "Điện, nước" in page.text and "Phường Việt Yên" in page.text
    # Sent at once after the form was shown: refused, nothing stored.
    fresh = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert fresh is not None
    assert _send(client, fresh.group(1)).status_code == 400
    assert _send(client, website="http://spam").status_code == 403
    assert _send(client, category="").status_code == 422
    with sessions() as session:
        assert report_service.categories(session) and not session.query(ReportPhoto).count()

    sent = _send(
        client,
        files=[("photos", ("anh.jpg", _photo_with_gps(), "image/jpeg"))],
        use_photo_position="1",
        latitude="",
        longitude="",
    )
    assert sent.status_code == 201, sent.text
    assert sent.headers["cache-control"] == "no-store"
    code = re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    key = re.search(r'id="reporter-key">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    with sessions() as session:
        report = report_service.get(session, code)
        assert report.latitude is not None and abs(report.latitude - 21.2735) < 1e-3  # from EXIF
        assert report.source_hash
        photo = session.query(ReportPhoto).filter_by(report_id=report.id).one()
    image = client.get(f"/reports/photos/{photo.id}")
    assert image.status_code == 200
    assert not Image.open(io.BytesIO(image.content)).getexif()

    track = client.get(f"/reports/{code.lower()}")
    assert track.status_code == 200 and "Chờ tiếp nhận" in track.text

    officer = make_official(Role.OFFICER, reports_world.ward_org)
    stranger = make_official(Role.OFFICER, reports_world.outsider)
    log_in(client, stranger.username)
    assert client.get(f"/reports/{code}/handle").status_code == 403
    client.post("/logout", data={"csrf_token": form_token(client.get("/reports/queue"))})
    log_in(client, officer.username)
    queue = client.get("/reports/queue")
    assert queue.status_code == 200 and code in queue.text
    handle = client.get(f"/reports/{code}/handle")
    token = form_token(handle)
    for action, note in (("answer", "Đã xong"), ("accept", ""), ("answer", "")):
        answer = client.post(
            f"/reports/{code}/handle",
            data={"csrf_token": token, "action": action, "note": note},
            follow_redirects=False,
        )
        assert answer.status_code in (409, 303, 422), (action, answer.status_code)
    assert (
        client.post(
            f"/reports/{code}/handle",
            data={"csrf_token": token, "action": "answer", "note": "Đã chằng chống cột điện"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    with sessions() as session:
        assert report_service.get(session, code).state is ReportState.RESOLVED

    wrong = client.post(f"/reports/{code}/rating", data={"key": "sai", "rating": "satisfied"})
    assert wrong.status_code == 422 and "Mã bí mật" in wrong.text
    rated = client.post(
        f"/reports/{code}/rating", data={"key": key, "rating": "satisfied"}, follow_redirects=False
    )
    assert rated.status_code == 303
    assert "Hài lòng" in client.get(f"/reports/{code}").text

    statistics = client.get("/reports/statistics")
    assert statistics.status_code == 200 and "UBND phường Việt Yên" in statistics.text
    book = load_workbook(io.BytesIO(client.get("/reports/statistics.xlsx").content))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    ward = next(row for row in rows if row[0] == "UBND phường Việt Yên")
    assert ward[1:5] == (1, 1, 1, 0) and ward[6] == 100


def test_submissions_are_limited_per_address(
    client: TestClient, reports_world: ReportsWorld
) -> None:
    for _ in range(SUBMISSIONS_PER_HOUR):
        assert _send(client).status_code == 201
    refused = _send(client)
    assert refused.status_code == 429 and refused.headers.get("retry-after") == "3600"


def test_nearby_reports_are_offered_on_the_form(
    client: TestClient, reports_world: ReportsWorld
) -> None:
    assert _send(client, latitude="21.2735", longitude="106.1946").status_code == 201
    near = client.get("/reports/nearby?category=dien-nuoc&latitude=21.27352&longitude=106.19462")
    assert near.status_code == 200 and "PA-" in near.text and "cách" in near.text
    far = client.get("/reports/nearby?category=dien-nuoc&latitude=21.30&longitude=106.19462")
    assert "PA-" not in far.text
    bad = client.get("/reports/nearby?category=khong-co&latitude=x&longitude=1")
    assert bad.status_code == 200 and "PA-" not in bad.text


def test_statistics_by_unit_and_their_exports(
    client: TestClient, reports_world: ReportsWorld
) -> None:
    assert _send(client).status_code == 201
    page = client.get("/reports/statistics?by=unit")
    assert page.status_code == 200 and "Phường Việt Yên" in page.text
    exported = client.get("/reports/statistics.csv?by=unit")
    assert exported.status_code == 200
    text = exported.content.decode("utf-8")
    assert text.startswith("\ufeffĐơn vị;Tiếp nhận;Đã xử lý;")
    assert "Phường Việt Yên;1;0;0;" in text
    wrong = client.get("/reports/statistics?month=13-2026")
    assert wrong.status_code == 422 and "mm/yyyy" in wrong.text
    assert client.get("/reports/statistics.xlsx?month=2026/11").status_code == 422


def test_an_oversized_photo_is_refused_without_storing_the_report(
    client: TestClient, reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    from tinhso.reports.media.photos import MAX_PHOTO_BYTES  # noqa: PLC0415

    huge = b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES + 10)
    answer = _send(client, files=[("photos", ("to.jpg", huge, "image/jpeg"))])
    assert answer.status_code == 422 and "10 MB" in answer.text
    with sessions() as session:
        assert session.query(ReportPhoto).count() == 0
        assert session.query(Report).count() == 0


def test_the_form_asks_the_categorys_questions_and_officers_read_the_answers(
    client: TestClient,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    admin: Official,
) -> None:
    asked = client.get("/reports/new/questions?category=moi-truong")
    assert asked.status_code == 200
    assert 'name="attribute[muc-do]"' in asked.text and "Diện tích" in asked.text
    assert asked.text.count('type="checkbox" name="attribute[loai]"') == 2
    assert client.get("/reports/new/questions?category=khong-co").text.strip() == ""
    unanswered = _send(client, category="moi-truong", **{"attribute[dien-tich]": "1.234"})
    assert unanswered.status_code == 422
    assert 'id="rep-attribute-muc-do-error"' in unanswered.text
    assert "1234 hoặc 1.234" in unanswered.text  # both readings of the ambiguous number
    assert 'value="1.234"' in unanswered.text  # what was typed is kept
    with sessions() as session:
        assert session.query(Report).count() == 0
    sent = client.post(
        "/reports/new",
        data={
            "form_token": _aged_token(),
            "category": "moi-truong",
            "description": "Bãi rác tự phát",
            "unit_code": WARD,
            "attribute[muc-do]": "lon",
            "attribute[loai]": ["a", "b"],
            "attribute[dien-tich]": "12,5",
            "attribute[khong-hoi]": "left from another category",
        },
    )
    assert sent.status_code == 201, sent.text
    code = re.search(r'id="tracking-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
    with sessions() as session:
        stored = report_service.get(session, code)
        assert stored.attributes == {"muc-do": "lon", "loai": ["a", "b"], "dien-tich": "12.5"}
    log_in(client, admin.username)
    page = client.get(f"/reports/{code}/handle")
    assert page.status_code == 200
    assert "<dt>Mức độ</dt><dd>Lớn</dd>" in page.text
    assert "<dt>Loại</dt><dd>A, B</dd>" in page.text


def test_the_public_map_shows_reports_with_a_place_and_the_forms_map_gets_the_communes(
    client: TestClient, reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        load_synthetic(session, "24")
    placed = _send(client, latitude="21.2601", longitude="106.1203")
    assert placed.status_code == 201, placed.text
    code = re.search(r'id="tracking-code">([^<]+)<', placed.text).group(1)  # type: ignore[union-attr]
    assert _send(client, description="Không có vị trí").status_code == 201
    page = client.get("/reports/map")
    assert page.status_code == 200 and 'id="synthetic-note"' in page.text
    data = json.loads(
        re.search(r'id="reports-map-data">(.*?)</script>', page.text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert [p["code"] for p in data["points"]] == [code]  # only the one with a place
    assert data["points"][0]["value"] == [106.1203, 21.2601]
    assert len(data["geojson"]["features"]) > 50  # Bắc Ninh's communes
    closed = client.get("/reports/map?status=closed")
    assert "0 phản ánh có vị trí" in closed.text
    bad = client.get("/reports/map?category=khong-co")
    assert bad.status_code == 422
    communes = client.get("/reports/map/communes.json")
    assert communes.status_code == 200 and communes.json()["synthetic"] is True
    assert {"code", "name"} <= set(communes.json()["features"][0]["properties"])
    with sessions() as session:
        assert report_service.get(session, code).latitude == 21.2601


@pytest.mark.parametrize("settings", ["disk", "s3", "s3-presigned"], indirect=True)
def test_photos_go_to_the_platforms_file_store_and_a_lost_file_is_404(
    client: TestClient, app: FastAPI, reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    """Photos are kept where TINHSO_STORAGE_BACKEND says (the disk, or the S3 bucket open data
    uses), a report refused halfway leaves no file behind, and a stored file that went missing
    is answered 404, never 500."""
    files: FileStore = app.state.report_files
    refused = _send(
        client,
        files=[
            ("photos", ("tot.jpg", _photo_with_gps(), "image/jpeg")),
            ("photos", ("hong.jpg", b"not a photo", "image/jpeg")),
        ],
    )
    assert refused.status_code == 422, refused.text
    assert [found.key for found in files.list()] == []

    sent = _send(client, files=[("photos", ("anh.jpg", _photo_with_gps(), "image/jpeg"))])
    assert sent.status_code == 201, sent.text
    with sessions() as session:
        photo = session.query(ReportPhoto).one()
    assert [found.key for found in files.list()] == [photo.stored_path]
    assert (files.local_path(photo.stored_path) is not None) == (files.name == "disk")
    answer = client.get(f"/reports/photos/{photo.id}", follow_redirects=False)
    status, content = answer.status_code, answer.content
    if status == 302:  # the presigned URL of the bucket
        fetched = httpx.get(answer.headers["location"])
        status, content = fetched.status_code, fetched.content
    assert status == 200
    assert Image.open(io.BytesIO(content)).format == "JPEG"
    assert content == files.read(photo.stored_path)

    files.delete(photo.stored_path)
    lost = client.get(f"/reports/photos/{photo.id}", follow_redirects=False)
    assert lost.status_code == 404, lost.text
