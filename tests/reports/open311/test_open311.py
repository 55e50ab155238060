"""Open311 GeoReport v2 as an unmodified client reads it (georeport 0.3.1, its defaults),
JSON and XML, and POST as the specification's plain form request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from georeport import GeoReport
from typer.testing import CliRunner

from tests.reports.conftest import WARD
from tests.reports.media.test_photos import _photo_with_gps
from tinhso.cli import app as cli
from tinhso.core.config import ReportsSection
from tinhso.reports.media.photos import store_photo
from tinhso.reports.open311 import keys

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from tests.reports.conftest import ReportsWorld

FORM = {
    "service_code": "moi-truong",
    "description": "Rác thải tồn đọng ở ngõ 5",
    "lat": "21.2735",
    "long": "106.1946",
    "unit_code": WARD,
    "attribute[muc-do]": "lon",
    "attribute[loai][]": ["a", "b"],
    "first_name": "Nguyễn",
    "last_name": "Văn An",
    "email": "an@example.org",
}


def _key(sessions: sessionmaker[Session], name: str = "Ứng dụng công dân") -> str:
    with sessions.begin() as session:
        return keys.issue(session, name).key


def test_services_and_definitions(served: str, reports_world: ReportsWorld) -> None:
    client = GeoReport(f"{served}/open311/v2")
    services = client.get_service_list()
    assert {s["service_code"] for s in services} == {"moi-truong", "dien-nuoc", "y-te"}
    environment = next(s for s in services if s["service_code"] == "moi-truong")
    assert environment["service_name"] == "Môi trường"
    assert environment["metadata"] is True
    assert environment["type"] == "realtime"
    definition = client.get_service_definition("moi-truong")
    assert definition["service_code"] == "moi-truong"
    datatypes = [a["datatype"] for a in definition["attributes"]]
    assert datatypes == [
        "singlevaluelist",
        "multivaluelist",
        "number",
        "datetime",
        "text",
        "string",
    ]
    assert definition["attributes"][0]["values"] == [
        {"key": "nho", "name": "Nhỏ"},
        {"key": "lon", "name": "Lớn"},
    ]
    xml = GeoReport(f"{served}/open311/v2", output_format="xml")
    assert {s["service_code"] for s in xml.get_service_list()} == {
        "moi-truong",
        "dien-nuoc",
        "y-te",
    }
    assert (
        xml.get_service_definition("moi-truong")["attributes"]["attribute"][0]["code"] == "muc-do"
    )


def test_post_then_read_back(
    served: str, reports_world: ReportsWorld, sessions: sessionmaker[Session], app: FastAPI
) -> None:
    api_key = _key(sessions)
    answer = requests.post(
        f"{served}/open311/v2/requests.json", data={**FORM, "api_key": api_key}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    [created] = answer.json()
    code = created["service_request_id"]
    assert code.startswith("PA-") and created["reporter_key"]

    client = GeoReport(f"{served}/open311/v2")
    one = client.get_service_request(code)
    assert one["status"] == "open"
    assert one["service_code"] == "moi-truong"
    assert one["description"] == FORM["description"]
    assert one["lat"] == 21.2735 and one["long"] == 106.1946
    assert one["agency_responsible"] == "UBND phường Việt Yên"
    assert "requestor_name" not in one  # the reporter did not agree to show their name
    assert "email" not in one and "an@example.org" not in str(one)
    listed = client.get_service_requests(service_code="moi-truong", status="open")
    assert [r["service_request_id"] for r in listed] == [code]
    assert client.get_service_requests(status="closed") == []
    xml = GeoReport(f"{served}/open311/v2", output_format="xml")
    assert xml.get_service_request(code)["service_request_id"] == code

    extended = requests.get(
        f"{served}/open311/v2/requests/{code}.json?extensions=true", timeout=10
    ).json()[0]
    assert extended["extended_attributes"]["state"] == "submitted"
    assert extended["extended_attributes"]["unit_code"] == WARD
    assert [note["type"] for note in extended["notes"]] == ["submit"]

    with sessions.begin() as session:
        from tinhso.reports.service import report_service  # noqa: PLC0415

        stored = report_service.get(session, code)
        assert stored.attributes == {"muc-do": "lon", "loai": ["a", "b"]}
        assert stored.reporter_name == "Nguyễn Văn An"
        photo = store_photo(session, stored, _photo_with_gps(800, 600), app.state.report_files)
    media = client.get_service_request(code)["media_url"]
    assert media == f"{served}/reports/photos/{photo.id}"
    image = requests.get(media, timeout=10)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"


def test_errors_are_open311_errors(
    served: str, reports_world: ReportsWorld, sessions: sessionmaker[Session]
) -> None:
    base = f"{served}/open311/v2"
    refused = requests.post(f"{base}/requests.json", data=FORM, timeout=10)
    assert refused.status_code == 403
    assert refused.json() == [
        {"code": 403, "description": "api_key không hợp lệ; không thể tạo phản ánh"}
    ]
    english = requests.post(
        f"{base}/requests.xml",
        data={**FORM, "api_key": "pa_wrong"},
        headers={"Accept-Language": "en"},
        timeout=10,
    )
    assert english.status_code == 403
    assert (
        b"<errors><error><code>403</code><description>Invalid api_key received" in english.content
    )

    api_key = _key(sessions)
    missing = requests.post(
        f"{base}/requests.json",
        data={**{k: v for k, v in FORM.items() if k != "attribute[muc-do]"}, "api_key": api_key},
        timeout=10,
    )
    assert missing.status_code == 400
    assert missing.json()[0]["description"].startswith("attribute[muc-do]:")
    unknown = requests.get(f"{base}/requests/PA-2026-999999.json", timeout=10)
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404
    assert requests.get(f"{base}/tokens/abc.json", timeout=10).status_code == 404
    too_long = requests.get(
        f"{base}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        timeout=10,
    )
    assert too_long.status_code == 400
    assert requests.get(f"{base}/requests.json?start_date=yesterday", timeout=10).status_code == 400
    assert requests.get(f"{base}/services.csv", timeout=10).status_code in (404, 422)


def test_a_revoked_key_and_the_cli_key(
    served: str,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    monkeypatch: object,
    database_url: str,
) -> None:
    import pytest  # noqa: PLC0415

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("TINHSO_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["reports", "api-key", "create", "Tổng đài 1022"])
    assert result.exit_code == 0, result.output
    key = result.output.split()[-1]
    base = f"{served}/open311/v2"
    assert (
        requests.post(
            f"{base}/requests.json", data={**FORM, "api_key": key}, timeout=10
        ).status_code
        == 201
    )
    with sessions.begin() as session:
        record = next(r for r in keys.listed(session) if r.name == "Tổng đài 1022")
        assert record.last_used_at is not None
        keys.revoke(session, record.id)
    assert (
        requests.post(
            f"{base}/requests.json", data={**FORM, "api_key": key}, timeout=10
        ).status_code
        == 403
    )


def test_one_key_cannot_flood_the_queue(
    served: str, reports_world: ReportsWorld, sessions: sessionmaker[Session], app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"reports": ReportsSection(open311_reports_per_key_hour=2)}
    )
    api_key = _key(sessions)
    base = f"{served}/open311/v2/requests.json"
    for _ in range(2):
        assert requests.post(base, data={**FORM, "api_key": api_key}, timeout=10).status_code == 201
    flooded = requests.post(base, data={**FORM, "api_key": api_key}, timeout=10)
    assert flooded.status_code == 429 and flooded.json()[0]["code"] == 429
    other = _key(sessions, "Ứng dụng khác")  # another application is not harmed
    assert requests.post(base, data={**FORM, "api_key": other}, timeout=10).status_code == 201
