"""Publishing in the portal: an officer creates a dataset (its name folded from the title) and
uploads a CSV that the datastore loads; a bad file lists its rows and cells and changes
nothing; officials of other organisations are refused."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from tests.portal.opendata.test_pages import SCHOOLS
from tests.portal.test_pages import form_token, log_in
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.models import OpendataResource
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial


# The uploaded file on the data directory's disk and on an S3-compatible server (the suite's).
@pytest.mark.parametrize("settings", ["disk", "s3"], indirect=True)
def test_an_officer_publishes_a_dataset_and_a_csv_bad_files_change_nothing(
    client: TestClient,
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        load_reference(session)
    officer = make_official(Role.OFFICER, "so-tttt")
    assert log_in(client, officer.username).status_code == 303
    page = client.get("/opendata/publish")
    assert page.status_code == 200 and 'value="so-tttt"' in page.text
    token = form_token(page)
    missing = client.post("/opendata/publish", data={"csrf_token": token, "owner_org": "so-tttt"})
    assert missing.status_code == 422 and 'id="od-title-error"' in missing.text
    created = client.post(
        "/opendata/publish",
        data={
            "csrf_token": token,
            "title": "Trường học tiểu học",
            "owner_org": "so-tttt",
            "license_id": "cc-by-4.0",
            "tags": "giáo dục, trường học",
            "groups": ["giao-duc"],
            "update_frequency": "annual",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/opendata/datasets/truong-hoc-tieu-hoc"

    dataset = client.get("/opendata/datasets/truong-hoc-tieu-hoc")
    assert dataset.status_code == 200 and "Thêm tệp" in dataset.text
    upload_token = form_token(dataset)
    ragged = client.post(
        "/opendata/datasets/truong-hoc-tieu-hoc/resources",
        data={"csrf_token": upload_token},
        files={"upload": ("le.csv", b"a;b;c\r\n1;2;3\r\n4;5\r\n", "text/csv")},
    )
    assert ragged.status_code == 422
    assert 'id="upload-error"' in ragged.text and "dòng 3" in ragged.text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OpendataResource)) == 0
    uploaded = client.post(
        "/opendata/datasets/truong-hoc-tieu-hoc/resources",
        data={"csrf_token": upload_token, "resource_name": "Danh sách trường"},
        files={"upload": ("truong-hoc.csv", SCHOOLS, "text/csv")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303
    shown = client.get(uploaded.headers["location"]).text
    assert 'id="upload-done"' in shown and "Trường Tiểu học Đồng Xuân" in shown
    link = re.search(r'href="(http[^"]*/download/truong-hoc\.csv)"', shown)
    assert link is not None
    downloaded = client.get(link[1])
    assert downloaded.status_code == 200
    assert downloaded.content == SCHOOLS

    client.cookies.clear()
    other = make_official(Role.OFFICER, "so-yte")
    assert log_in(client, other.username).status_code == 303
    foreign = client.get("/opendata/datasets/truong-hoc-tieu-hoc")
    assert "Thêm tệp" not in foreign.text
    refused = client.post(
        "/opendata/datasets/truong-hoc-tieu-hoc/resources",
        data={"csrf_token": form_token(foreign)},
        files={"upload": ("x.csv", b"a\r\n1\r\n", "text/csv")},
    )
    assert refused.status_code == 403
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OpendataResource)) == 1


def test_an_officer_changes_a_datasets_description_and_its_history_keeps_the_old_one(
    client: TestClient,
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        load_reference(session)
    officer = make_official(Role.OFFICER, "so-tttt")
    assert log_in(client, officer.username).status_code == 303
    token = form_token(client.get("/opendata/publish"))
    base = {"csrf_token": token, "owner_org": "so-tttt", "license_id": "cc-by-4.0"}
    client.post("/opendata/publish", data={**base, "title": "Trạm sạc", "tags": "điện"})
    page = client.get("/opendata/datasets/tram-sac")
    assert 'id="edit-dataset"' in page.text
    form = client.get("/opendata/datasets/tram-sac/edit")
    assert (
        form.status_code == 200
        and 'value="Trạm sạc"' in form.text
        and "<code>tram-sac</code>" in form.text
    )
    empty = client.post("/opendata/datasets/tram-sac/edit", data={**base, "title": ""})
    assert empty.status_code == 422 and 'id="od-title-error"' in empty.text
    changed = client.post(
        "/opendata/datasets/tram-sac/edit",
        data={**base, "title": "Trạm sạc xe điện", "tags": "điện, giao thông", "notes": "Vị trí"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/opendata/datasets/tram-sac?changed=1"
    shown = client.get(changed.headers["location"]).text
    assert 'id="change-done"' in shown and "Trạm sạc xe điện" in shown
    found = client.get("/api/3/action/package_show?id=tram-sac").json()["result"]
    assert found["title"] == "Trạm sạc xe điện" and found["notes"] == "Vị trí"
    assert sorted(tag["name"] for tag in found["tags"]) == ["giao thông", "điện"]
    history = client.get("/api/3/action/package_activity_list?id=tram-sac").json()["result"]
    assert len(history) == 2  # created, then changed

    client.cookies.clear()
    other = make_official(Role.OFFICER, "so-yte")
    assert log_in(client, other.username).status_code == 303
    assert 'id="edit-dataset"' not in client.get("/opendata/datasets/tram-sac").text
    assert client.get("/opendata/datasets/tram-sac/edit").status_code == 403
    refused = client.post(
        "/opendata/datasets/tram-sac/edit",
        data={**base, "csrf_token": form_token(client.get("/opendata")), "title": "Khác"},
    )
    assert refused.status_code == 403


def test_an_agencys_open_data_list_and_its_review(
    client: TestClient,
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        load_reference(session)
    officer = make_official(Role.OFFICER, "so-tttt")
    assert log_in(client, officer.username).status_code == 303
    publish = client.get("/opendata/publish")
    assert 'href="/opendata/lists/so-tttt"' in publish.text
    client.post(
        "/opendata/publish",
        data={
            "csrf_token": form_token(publish),
            "title": "Điểm truy cập wifi công cộng",
            "owner_org": "so-tttt",
            "license_id": "cc-by-4.0",
            "update_frequency": "monthly",
        },
    )
    page = client.get("/opendata/lists/so-tttt")
    assert page.status_code == 200
    assert 'data-name="diem-truy-cap-wifi-cong-cong"' in page.text
    assert "Chưa rà soát lần nào" in page.text
    token = form_token(page)
    bad = client.post(
        "/opendata/lists/so-tttt/reviews", data={"csrf_token": token, "note": "a\x07"}
    )
    assert bad.status_code == 422 and 'id="review-note-error"' in bad.text
    done = client.post(
        "/opendata/lists/so-tttt/reviews",
        data={"csrf_token": token, "note": "Rà soát định kỳ"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert 'id="review-done"' in shown and "Rà soát định kỳ" in shown
    assert re.search(r"Rà soát lần gần nhất ngày \d{2}/\d{2}/\d{4}", shown)

    client.cookies.clear()
    viewer = make_official(Role.VIEWER, "so-tttt")
    assert log_in(client, viewer.username).status_code == 303
    seen = client.get("/opendata/lists/so-tttt")
    assert seen.status_code == 200
    refused = client.post(
        "/opendata/lists/so-tttt/reviews", data={"csrf_token": form_token(seen), "note": ""}
    )
    assert refused.status_code == 403
    client.cookies.clear()
    outsider = make_official(Role.OFFICER, "so-yte")
    assert log_in(client, outsider.username).status_code == 303
    assert client.get("/opendata/lists/so-tttt").status_code == 403
