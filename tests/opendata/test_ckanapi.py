"""The CKAN Action API as the unmodified ``ckanapi`` client (PyPI) uses it, against the app
served for real: every read and write action of the slice, the exceptions ckanapi raises
from our errors, Vietnamese search without diacritics, private datasets and facets."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ckanapi import NotAuthorized, NotFound, SearchQueryError, ValidationError

from tests.opendata.conftest import OTHER, PUBLISHER
from tinhso.opendata.access import PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.catalogue.storage import unreferenced

if TYPE_CHECKING:
    from ckanapi import RemoteCKAN
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from tests.opendata.conftest import Catalogue


def _dataset(remote: RemoteCKAN, title: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "owner_org": PUBLISHER, **fields}
    created: dict[str, Any] = remote.action.package_create(**body)
    return created


def _names(found: dict[str, Any]) -> list[str]:
    return [item["name"] for item in found["results"]]


def test_a_publisher_creates_a_dataset_that_every_read_action_shows(catalogue: Catalogue) -> None:
    created = _dataset(
        catalogue.officer,
        "Danh sách trường học",
        notes="Các trường mầm non, tiểu học và trung học cơ sở của tỉnh Bắc Giang",
        license_id="cc-by-4.0",
        tags=[{"name": "giáo dục"}, {"name": "trường học"}],
        groups=[{"name": "giao-duc"}],
        update_frequency="annual",
        temporal_start="01/01/2024",
        temporal_end="2024-12-31",
        spatial_unit_set="legacy",
        spatial_unit_code="24",
        resources=[{"name": "Danh sách", "url": "https://example.org/truong-hoc.csv"}],
    )
    assert created["name"] == "danh-sach-truong-hoc"  # folded from the title
    assert created["organization"]["name"] == PUBLISHER
    assert created["license_title"].startswith("Creative Commons")
    assert created["temporal_start"] == "2024-01-01"
    [resource] = created["resources"]
    assert resource["format"] == "CSV"  # read from the URL

    anonymous = catalogue.anonymous.action
    status = anonymous.status_show()
    assert status["ckan_version"].startswith("2.")
    assert status["site_url"] == catalogue.url
    assert anonymous.package_list() == ["danh-sach-truong-hoc"]
    shown = anonymous.package_show(id="danh-sach-truong-hoc")
    assert shown["id"] == created["id"]
    assert anonymous.package_show(id=created["id"])["name"] == "danh-sach-truong-hoc"
    assert [tag["name"] for tag in shown["tags"]] == ["giáo dục", "trường học"]
    assert [group["name"] for group in shown["groups"]] == ["giao-duc"]
    assert anonymous.resource_show(id=resource["id"])["url"].endswith("truong-hoc.csv")
    assert anonymous.organization_list() == [PUBLISHER]
    publisher = anonymous.organization_show(id=PUBLISHER, include_datasets=True)
    assert publisher["package_count"] == 1
    assert [item["name"] for item in publisher["packages"]] == ["danh-sach-truong-hoc"]
    assert len(anonymous.group_list()) == 12  # the national themes
    theme = anonymous.group_show(id="giao-duc")
    assert theme["package_count"] == 1
    assert anonymous.tag_list() == ["giáo dục", "trường học"]
    licences = {licence["id"] for licence in anonymous.license_list()}
    assert {"cc-by-4.0", "odc-by", "vn-open-data"} <= licences
    found = anonymous.package_search(q="truong hoc")
    assert found["count"] == 1
    assert _names(found) == ["danh-sach-truong-hoc"]


def test_search_ignores_case_diacritics_and_d_on_both_sides(catalogue: Catalogue) -> None:
    _dataset(catalogue.officer, "Chợ Đồng Xuân", notes="Chợ đầu mối")
    _dataset(catalogue.officer, "Dân số tỉnh Bắc Giang", notes="Theo huyện")
    _dataset(catalogue.officer, "Điểm du lịch", notes="Các điểm du lịch của Bắc Giang")
    _dataset(catalogue.officer, "Giá đất Hà Nội", notes="Bảng giá")
    search = catalogue.anonymous.action.package_search

    by_query = {q: _names(search(q=q)) for q in ("bac giang", "Bắc Giang", "BAC GIANG")}
    assert by_query["bac giang"] == by_query["Bắc Giang"] == by_query["BAC GIANG"]
    # the title match ranks above the notes match
    assert by_query["bac giang"] == ["dan-so-tinh-bac-giang", "diem-du-lich"]
    assert _names(search(q="dong xuan")) == ["cho-dong-xuan"]
    assert _names(search(q="ĐỒNG XUÂN")) == ["cho-dong-xuan"]
    assert _names(search(q="diem du")) == ["diem-du-lich"]  # word prefixes
    assert search(q="giang hanoi")["count"] == 0
    assert search(q="*:*")["count"] == 4
    assert search()["count"] == 4
    page = search(rows=2, start=1, sort="name asc")
    assert page["count"] == 4
    assert _names(page) == ["dan-so-tinh-bac-giang", "diem-du-lich"]


def test_a_typo_corrected_search_says_so_in_its_result(catalogue: Catalogue) -> None:
    _dataset(catalogue.officer, "Trường học", notes="Danh sách trường mầm non")
    _dataset(catalogue.officer, "Giá đất Hà Nội", notes="Bảng giá")
    search = catalogue.anonymous.action.package_search

    corrected = search(q="truong hco", **{"facet.field": '["tags"]'})
    assert _names(corrected) == ["truong-hoc"]
    assert corrected["search_corrected"] == {
        "query": "truong hco",
        "used": "truong hoc",
        "used_written": "trường học",
    }
    # an exact match, or nothing at all: no such key (CKAN's result as it is)
    assert "search_corrected" not in search(q="truong hoc")
    assert "search_corrected" not in search(q="giang hanoi")
    assert search(q="giang hanoi")["count"] == 0


def test_facets_count_what_the_query_matches(catalogue: Catalogue) -> None:
    _dataset(
        catalogue.officer,
        "Trạm quan trắc không khí",
        tags=[{"name": "môi trường"}],
        groups=[{"name": "tai-nguyen-moi-truong"}],
        license_id="odc-by",
        resources=[{"url": "https://example.org/a.json", "format": "JSON"}],
    )
    _dataset(
        catalogue.officer,
        "Chất lượng nước mặt",
        tags=[{"name": "môi trường"}, {"name": "nước"}],
        groups=[{"name": "tai-nguyen-moi-truong"}],
        license_id="cc-by-4.0",
        resources=[
            {"url": "https://example.org/b.csv", "format": "CSV"},
            {"url": "https://example.org/c.csv", "format": "csv"},
        ],
    )
    _dataset(catalogue.other, "Bệnh viện công lập", owner_org=OTHER, tags=[{"name": "y tế"}])
    found = catalogue.anonymous.action.package_search(
        **{
            "facet.field": '["organization", "tags", "groups", "res_format", "license_id"]',
            "facet.limit": 10,
        }
    )
    facets = found["facets"]
    assert facets["organization"] == {PUBLISHER: 2, OTHER: 1}
    assert facets["tags"] == {"môi trường": 2, "nước": 1, "y tế": 1}
    assert facets["groups"] == {"tai-nguyen-moi-truong": 2}
    assert facets["res_format"] == {"CSV": 1, "JSON": 1}
    assert facets["license_id"] == {"cc-by-4.0": 1, "odc-by": 1}
    items = found["search_facets"]["organization"]["items"]
    assert items[0] == {
        "name": PUBLISHER,
        "display_name": "Sở Thông tin và Truyền thông",
        "count": 2,
    }

    narrowed = catalogue.anonymous.action.package_search(
        fq='tags:"môi trường" res_format:CSV', **{"facet.field": ["tags"], "facet.mincount": 1}
    )
    assert _names(narrowed) == ["chat-luong-nuoc-mat"]
    assert narrowed["facets"]["tags"] == {"môi trường": 1, "nước": 1}
    assert catalogue.anonymous.action.package_search(fq=f"organization:{OTHER}")["count"] == 1
    limited = catalogue.anonymous.action.package_search(
        **{"facet.field": ["tags"], "facet.limit": 1}
    )
    assert limited["facets"]["tags"] == {"môi trường": 2}


def test_a_private_dataset_is_seen_only_by_members_of_its_organisation(
    catalogue: Catalogue,
) -> None:
    secret = _dataset(
        catalogue.officer,
        "Hồ sơ nội bộ Bắc Giang",
        private=True,
        tags=[{"name": "nội bộ"}],
        resources=[{"url": "https://example.org/noi-bo.csv"}],
    )
    _dataset(catalogue.officer, "Danh bạ Bắc Giang", tags=[{"name": "danh bạ"}])
    facets = '["organization", "tags"]'
    for outsider in (catalogue.anonymous, catalogue.other):
        action = outsider.action
        found = action.package_search(
            q="bac giang", include_private=True, **{"facet.field": facets}
        )
        assert _names(found) == ["danh-ba-bac-giang"]
        assert found["facets"]["tags"] == {"danh bạ": 1}
        assert found["facets"]["organization"] == {PUBLISHER: 1}
        with pytest.raises(NotFound):
            action.package_show(id=secret["name"])
        with pytest.raises(NotFound):
            action.package_show(id=secret["id"])
        with pytest.raises(NotFound):
            action.resource_show(id=secret["resources"][0]["id"])
        assert action.package_list() == ["danh-ba-bac-giang"]
        assert action.tag_list() == ["danh bạ"]
        assert action.organization_show(id=PUBLISHER)["package_count"] == 1

    member = catalogue.viewer.action
    assert member.package_show(id=secret["name"])["private"] is True
    assert member.resource_show(id=secret["resources"][0]["id"])["package_id"] == secret["id"]
    assert member.package_search(q="bac giang")["count"] == 1  # include_private is off by default
    mine = member.package_search(q="bac giang", include_private=True, **{"facet.field": facets})
    assert sorted(_names(mine)) == ["danh-ba-bac-giang", "ho-so-noi-bo-bac-giang"]
    assert mine["facets"]["tags"] == {"danh bạ": 1, "nội bộ": 1}
    assert member.organization_show(id=PUBLISHER)["package_count"] == 2
    assert catalogue.admin.action.package_search(include_private=True)["count"] == 2


def test_publishers_update_patch_and_delete_their_datasets(catalogue: Catalogue) -> None:
    created = _dataset(
        catalogue.officer,
        "Trường học",
        notes="Ghi chú",
        tags=[{"name": "giáo dục"}],
        resources=[{"url": "https://example.org/a.csv"}],
    )
    assert created["name"] == "truong-hoc"
    action = catalogue.officer.action

    updated = action.package_update(
        id=created["id"], title="Trường học phổ thông", owner_org=PUBLISHER, notes="Mới"
    )
    assert updated["name"] == "truong-hoc"  # kept: a name is not re-folded on update
    assert updated["title"] == "Trường học phổ thông"
    assert updated["tags"] == []  # update replaces the metadata...
    assert len(updated["resources"]) == 1  # ...but keeps resources it was not given
    assert catalogue.anonymous.action.package_search(q="pho thong")["count"] == 1

    patched = action.package_patch(id="truong-hoc", notes="Cập nhật năm 2025", private=True)
    assert patched["title"] == "Trường học phổ thông"  # untouched by the patch
    assert patched["notes"] == "Cập nhật năm 2025"
    assert patched["private"] is True
    assert patched["metadata_modified"] >= updated["metadata_modified"]
    kept = action.package_update(id="truong-hoc", title="Trường học phổ thông", private=True)
    assert kept["owner_org"] == PUBLISHER  # the publisher is kept when not given
    with pytest.raises(NotFound):
        catalogue.anonymous.action.package_show(id="truong-hoc")
    action.package_patch(id="truong-hoc", private=False)

    added = action.resource_create(
        package_id="truong-hoc", name="Bản đồ", url="https://example.org/b.geojson"
    )
    assert added["format"] == "GEOJSON"
    assert catalogue.anonymous.action.package_show(id="truong-hoc")["num_resources"] == 2
    action.resource_delete(id=added["id"])
    with pytest.raises(NotFound):
        catalogue.anonymous.action.resource_show(id=added["id"])

    action.package_delete(id="truong-hoc")
    with pytest.raises(NotFound):
        catalogue.anonymous.action.package_show(id="truong-hoc")
    assert catalogue.anonymous.action.package_list() == []
    assert catalogue.anonymous.action.package_search()["count"] == 0
    assert action.package_show(id="truong-hoc")["state"] == "deleted"  # members still see it


def test_only_officers_of_the_publisher_write(catalogue: Catalogue) -> None:
    created = _dataset(catalogue.officer, "Bãi đỗ xe", resources=[{"url": "https://e.org/x"}])
    resource_id = created["resources"][0]["id"]
    body = {"title": "Bãi đỗ xe", "owner_org": PUBLISHER}
    for outsider in (catalogue.anonymous, catalogue.viewer, catalogue.other):
        action = outsider.action
        with pytest.raises(NotAuthorized):
            action.package_create(**body, name=f"bai-do-xe-{id(outsider)}")
        with pytest.raises(NotAuthorized):
            action.package_update(id=created["id"], **body)
        with pytest.raises(NotAuthorized):
            action.package_patch(id=created["id"], title="Đã sửa")
        with pytest.raises(NotAuthorized):
            action.resource_create(package_id=created["id"], url="https://e.org/y")
        with pytest.raises(NotAuthorized):
            action.resource_delete(id=resource_id)
        with pytest.raises(NotAuthorized):
            action.package_delete(id=created["id"])
    # the officer of another organisation cannot move a dataset to their own either
    with pytest.raises(NotAuthorized):
        catalogue.other.action.package_patch(id=created["id"], owner_org=OTHER)
    shown = catalogue.anonymous.action.package_show(id=created["id"])
    assert shown["title"] == "Bãi đỗ xe"
    assert shown["num_resources"] == 1
    # the platform administrator may write anywhere
    catalogue.admin.action.package_patch(id=created["id"], title="Bãi đỗ xe công cộng")
    with pytest.raises(NotAuthorized):
        type(catalogue.anonymous)(catalogue.url, apikey="not-a-token").action.package_list()


def test_validation_errors_name_each_field(catalogue: Catalogue) -> None:
    _dataset(catalogue.officer, "Trường học")
    action = catalogue.officer.action
    with pytest.raises(ValidationError) as raised:
        action.package_create(title="Trường học", owner_org=PUBLISHER)
    assert raised.value.error_dict["name"] == ["Tên này đã được dùng"]
    with pytest.raises(ValidationError) as raised:
        action.package_create(
            name="Tên Có Dấu",
            owner_org=PUBLISHER,
            license_id="khong-co",
            update_frequency="hourly",
            temporal_start="31/12/2024",
            temporal_end="01/01/2024",
            groups=[{"name": "khong-co"}],
            resources=[{"url": "ftp://example.org/a"}],
        )
    errors = raised.value.error_dict
    assert {"name", "title", "license_id", "update_frequency", "temporal_end", "groups"} <= set(
        errors
    )
    assert "resources.0.url" in errors
    with pytest.raises(ValidationError) as raised:
        action.package_create(title="Không có tổ chức", owner_org="khong-co")
    assert "owner_org" in raised.value.error_dict
    with pytest.raises(ValidationError):
        action.resource_create(package_id="truong-hoc", url="javascript:alert(1)")
    assert catalogue.anonymous.action.package_show(id="truong-hoc")["num_resources"] == 0
    # English on request
    english = httpx.post(
        f"{catalogue.url}/api/action/package_create",
        json={"title": "Trường học", "owner_org": PUBLISHER},
        headers={
            "Authorization": catalogue.officer.apikey,
            "Accept-Language": "en",
        },
        timeout=10,
    )
    assert english.status_code == 409
    assert english.json()["error"]["name"] == ["That URL is already in use."]


def test_lookups_and_searches_that_fail_raise_what_ckan_raises(catalogue: Catalogue) -> None:
    action = catalogue.anonymous.action
    with pytest.raises(NotFound):
        action.package_show(id="khong-co")
    with pytest.raises(NotFound):
        action.resource_show(id="khong-co")
    with pytest.raises(NotFound):
        action.organization_show(id="khong-co")
    with pytest.raises(NotFound):
        action.group_show(id="khong-co")
    with pytest.raises(SearchQueryError):
        action.package_search(sort="popularity desc")
    with pytest.raises(SearchQueryError):
        action.package_search(fq="secret:1")
    with pytest.raises(SearchQueryError):
        action.package_search(**{"facet.field": '["maintainer"]'})
    with pytest.raises(ValidationError) as raised:
        action.package_search(rows=1001)
    assert "rows" in raised.value.error_dict
    with pytest.raises(ValidationError):
        action.package_search(rows="nhieu")


def test_the_versioned_path_get_and_forms_answer_like_ckan(catalogue: Catalogue) -> None:
    _dataset(catalogue.officer, "Chợ Đồng Xuân")
    versioned = httpx.get(
        f"{catalogue.url}/api/3/action/package_search",
        params={"q": "dong xuan", "facet.field": '["tags"]'},
        timeout=10,
    )
    assert versioned.status_code == 200
    body = versioned.json()
    assert body["success"] is True
    assert body["help"].endswith("/api/3/action/help_show?name=package_search")
    assert body["result"]["count"] == 1
    missing = httpx.get(f"{catalogue.url}/api/3/action/package_show?id=khong-co", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["error"]["__type"] == "Not Found Error"
    form = httpx.post(
        f"{catalogue.url}/api/action/package_create",
        data={"title": "Điểm wifi công cộng", "owner_org": PUBLISHER},
        headers={"Authorization": f"Bearer {catalogue.officer.apikey}"},
        timeout=10,
    )
    assert form.status_code == 200, form.text
    assert form.json()["result"]["name"] == "diem-wifi-cong-cong"
    anonymous_write = httpx.post(
        f"{catalogue.url}/api/action/package_create",
        json={"title": "Không được", "owner_org": PUBLISHER},
        timeout=10,
    )
    assert anonymous_write.status_code == 403
    assert anonymous_write.json()["error"]["__type"] == "Authorization Error"
    not_an_object = httpx.post(
        f"{catalogue.url}/api/action/package_show",
        content=b"[1, 2]",
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert not_an_object.status_code == 400
    assert not_an_object.json()["success"] is False


# Resource files on the data directory's disk and on an S3-compatible server (moto's, started
# by the suite): the same uploads and downloads through the unmodified client.
STORES = pytest.mark.parametrize("settings", ["disk", "s3"], indirect=True)


@STORES
def test_a_file_uploaded_through_ckanapi_is_stored_and_downloaded(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    created = _dataset(catalogue.officer, "Điểm phát wifi công cộng")
    content = "ma,ten\r\n1,Quảng trường 3/2\r\n".encode()
    upload = tmp_path / "Điểm wifi.csv"
    upload.write_bytes(content)
    with upload.open("rb") as file:
        resource = catalogue.officer.action.resource_create(
            package_id=created["id"], name="Danh sách điểm", upload=file
        )
    assert resource["url_type"] == "upload"
    assert resource["format"] == "CSV"
    assert resource["size"] == len(content)
    assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
    assert resource["url"].startswith(catalogue.url + "/dataset/")
    assert resource["url"].endswith("/download/diem-wifi.csv")
    downloaded = httpx.get(resource["url"], timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    shown = catalogue.anonymous.action.resource_show(id=resource["id"])
    assert shown["url"] == resource["url"]

    with pytest.raises(ValidationError) as raised:
        (tmp_path / "rong.csv").write_bytes(b"")
        with (tmp_path / "rong.csv").open("rb") as empty:
            catalogue.officer.action.resource_create(package_id=created["id"], upload=empty)
    assert "upload" in raised.value.error_dict
    with pytest.raises(NotAuthorized), upload.open("rb") as file:
        catalogue.other.action.resource_create(package_id=created["id"], upload=file)
    assert catalogue.anonymous.action.package_show(id=created["id"])["num_resources"] == 1

    # a private dataset's file is as invisible as the dataset
    catalogue.officer.action.package_patch(id=created["id"], private=True)
    assert httpx.get(resource["url"], timeout=10).status_code == 404
    member = httpx.get(
        resource["url"], headers={"Authorization": catalogue.viewer.apikey}, timeout=10
    )
    assert member.status_code == 200
    wrong_name = resource["url"].rsplit("/", 1)[0] + "/khac.csv"
    assert (
        httpx.get(
            wrong_name, headers={"Authorization": catalogue.viewer.apikey}, timeout=10
        ).status_code
        == 404
    )


@STORES
def test_a_new_version_replaces_the_download_and_a_failed_one_changes_nothing(
    catalogue: Catalogue, app: FastAPI, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    created = _dataset(catalogue.officer, "Giá nước sạch")
    first = b"ma,gia\r\n1,7500\r\n2,9800\r\n"
    upload = tmp_path / "gia-nuoc.csv"
    upload.write_bytes(first)
    with upload.open("rb") as file:
        resource = catalogue.officer.action.resource_create(
            package_id=created["id"], name="Bảng giá", upload=file
        )
    url = resource["url"]

    # Range requests, from the disk (sendfile) and from S3 (streamed through the platform)
    part = httpx.get(url, headers={"Range": "bytes=3-6"}, timeout=10)
    assert part.status_code == 206
    assert part.content == first[3:7]
    assert part.headers["content-range"] == f"bytes 3-6/{len(first)}"
    tail = httpx.get(url, headers={"Range": "bytes=-4"}, timeout=10)
    assert (tail.status_code, tail.content) == (206, first[-4:])
    beyond = httpx.get(url, headers={"Range": f"bytes={len(first)}-"}, timeout=10)
    assert beyond.status_code == 416
    whole = httpx.get(url, timeout=10)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"].startswith("text/csv")
    assert 'filename="gia-nuoc.csv"' in whole.headers["content-disposition"]
    assert whole.content == first

    second = b"ma,gia\r\n1,8000\r\n2,9800\r\n"
    upload.write_bytes(second)
    with upload.open("rb") as file:
        updated = catalogue.officer.action.resource_update(id=resource["id"], upload=file)
    assert updated["hash"] == "sha256:" + hashlib.sha256(second).hexdigest()
    assert httpx.get(updated["url"], timeout=10).content == second
    files = app.state.resource_files
    later = datetime.now(UTC) + timedelta(minutes=1)
    with sessions() as session:
        committed = dataset_service.find_resource(session, PLATFORM, resource["id"]).stored_path
        replaced = unreferenced(session, files, older_than=timedelta(0), now=later)
    assert [item.key for item in replaced] != [committed]
    assert len(replaced) == 1  # the first version, kept until a clean-up takes it
    assert files.read(replaced[0].key) == first

    # A new version whose transaction fails: written before the commit under a key of its
    # own, it leaves the committed version as it was (and an orphan nothing reads).
    third = b"ma,gia\r\n1,1\r\n"
    with sessions() as session:
        dataset_service.replace_file(
            session, PLATFORM, resource["id"], FileUpload("gia-nuoc.csv", third), files
        )
        session.rollback()
    with sessions() as session:
        assert dataset_service.find_resource(session, PLATFORM, resource["id"]).stored_path == (
            committed
        )
        orphans = unreferenced(session, files, older_than=timedelta(0), now=later)
    assert len(orphans) == 2
    assert {files.read(item.key) for item in orphans} == {first, third}
    assert httpx.get(url, timeout=10).content == second
    assert catalogue.anonymous.action.resource_show(id=resource["id"])["size"] == len(second)
    # A file just written is never taken (its upload's transaction may still be open).
    with sessions() as session:
        assert unreferenced(session, files, older_than=timedelta(hours=1)) == []


@pytest.mark.parametrize("settings", ["s3-presigned"], indirect=True)
def test_presigned_downloads_redirect_only_after_the_platforms_access_check(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    created = _dataset(catalogue.officer, "Bản đồ điểm thu gom rác")
    content = b'{"type": "FeatureCollection", "features": []}'
    upload = tmp_path / "diem-thu-gom.geojson"
    upload.write_bytes(content)
    with upload.open("rb") as file:
        resource = catalogue.officer.action.resource_create(
            package_id=created["id"], name="Điểm thu gom", upload=file
        )
    answer = httpx.get(resource["url"], timeout=10)
    assert answer.status_code == 302
    assert answer.headers["cache-control"] == "no-store"
    bucket = httpx.get(answer.headers["location"], timeout=10)
    assert bucket.status_code == 200
    assert bucket.content == content
    assert bucket.headers["content-type"] == "application/geo+json"
    catalogue.officer.action.package_patch(id=created["id"], private=True)
    assert httpx.get(resource["url"], timeout=10).status_code == 404
    member = httpx.get(
        resource["url"], headers={"Authorization": catalogue.viewer.apikey}, timeout=10
    )
    assert member.status_code == 302


def _ckanapi(*arguments: str) -> list[dict[str, Any]]:
    """The ``ckanapi`` command's JSON lines."""
    scripts = Path(sys.executable).parent  # its workers run "ckanapi" found on PATH
    path = os.pathsep.join([str(scripts), os.environ.get("PATH", "")])
    done = subprocess.run(
        [str(scripts / "ckanapi"), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": path},
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_ckanapi_command_dumps_and_searches_the_catalogue(catalogue: Catalogue) -> None:
    _dataset(catalogue.officer, "Chợ Đồng Xuân", tags=[{"name": "chợ"}])
    _dataset(catalogue.officer, "Dân số Bắc Giang")
    _dataset(catalogue.officer, "Hồ sơ nội bộ", private=True)
    dumped = _ckanapi("dump", "datasets", "--all", "-q", "-r", catalogue.url)
    assert sorted(item["name"] for item in dumped) == ["cho-dong-xuan", "dan-so-bac-giang"]
    assert {tag["name"] for item in dumped for tag in item["tags"]} == {"chợ"}
    found = _ckanapi("search", "datasets", "q=dong xuan", "-r", catalogue.url)
    assert [item["name"] for item in found] == ["cho-dong-xuan"]
    everything = _ckanapi("search", "datasets", "-r", catalogue.url)
    assert len(everything) == 2


def test_the_unit_facet_tells_the_two_unit_sets_apart(catalogue: Catalogue) -> None:
    for title, unit_set in (("Dân số tỉnh hiện hành", "current"), ("Dân số tỉnh cũ", "legacy")):
        _dataset(catalogue.officer, title, spatial_unit_set=unit_set, spatial_unit_code="24")
    found = catalogue.anonymous.action.package_search(q="dan so", **{"facet.field": '["unit"]'})
    items = {
        item["name"]: (item["display_name"], item["count"])
        for item in found["search_facets"]["unit"]["items"]
    }
    assert items == {
        "current:24": ("Tỉnh Bắc Ninh", 1),
        "legacy:24": ("Tỉnh Bắc Giang (trước 01/07/2025)", 1),
    }
    legacy = catalogue.anonymous.action.package_search(fq='unit:"legacy:24"')
    assert _names(legacy) == ["dan-so-tinh-cu"]
