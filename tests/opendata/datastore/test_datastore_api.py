"""The datastore through the unmodified ``ckanapi`` client: files become typed tables that
``datastore_search`` filters, sorts and pages; bad files are refused naming rows and cells
and leave the previous version (file and rows) as it was."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from ckanapi import NotAuthorized, NotFound, ValidationError
from openpyxl import Workbook, load_workbook

from tests.opendata.conftest import PUBLISHER
from tinhso.opendata import api as opendata_api
from tinhso.opendata.catalogue import metadata as opendata_metadata

if TYPE_CHECKING:
    from pathlib import Path

    from ckanapi import RemoteCKAN

    from tests.opendata.conftest import Catalogue

COMMUNES = (
    "Mã xã;Tên xã;Dân số;Diện tích (km2);Ngày thành lập\r\n"
    "07204;Phường Bắc Giang;1.234.567;12,5;01/07/2025\r\n"
    "07210;Xã Đồng Việt;8.200;45,25;01/07/2025\r\n"
    "07216;Phường Việt Yên;54.321;30;02/07/2025\r\n"
    "07222;Xã Tiên Lục;9.870;18,75;2025-07-01\r\n"
).encode()


def _upload(
    remote: RemoteCKAN, tmp_path: Path, name: str, content: bytes, **fields: Any
) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(content)
    with path.open("rb") as file:
        if "id" in fields:
            found: dict[str, Any] = remote.action.resource_update(upload=file, **fields)
        else:
            found = remote.action.resource_create(upload=file, **fields)
    return found


def _dataset(catalogue: Catalogue, title: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = catalogue.officer.action.package_create(
        title=title, owner_org=PUBLISHER, **fields
    )
    return created


@pytest.fixture
def communes(catalogue: Catalogue, tmp_path: Path) -> dict[str, Any]:
    dataset = _dataset(catalogue, "Danh sách xã phường")
    return _upload(catalogue.officer, tmp_path, "Xã phường.csv", COMMUNES, package_id=dataset["id"])


def test_a_csv_becomes_a_typed_table(catalogue: Catalogue, communes: dict[str, Any]) -> None:
    assert communes["datastore_active"] is True
    info = catalogue.anonymous.action.datastore_info(id=communes["id"])
    assert info["meta"]["count"] == 4
    assert [(field["id"], field["type"]) for field in info["fields"]] == [
        ("Mã xã", "text"),
        ("Tên xã", "text"),
        ("Dân số", "int"),
        ("Diện tích (km2)", "numeric"),
        ("Ngày thành lập", "date"),
    ]
    found = catalogue.anonymous.action.datastore_search(resource_id=communes["id"])
    assert found["total"] == 4
    assert found["fields"][0]["id"] == "_id"
    first = found["records"][0]
    assert first == {
        "_id": 1,
        "Mã xã": "07204",
        "Tên xã": "Phường Bắc Giang",
        "Dân số": 1234567,
        "Diện tích (km2)": 12.5,
        "Ngày thành lập": "2025-07-01",
    }


def test_search_filters_sorts_pages_and_formats(
    catalogue: Catalogue, communes: dict[str, Any]
) -> None:
    search = catalogue.anonymous.action.datastore_search
    rid = communes["id"]
    by_people = search(resource_id=rid, sort='"Dân số" desc', limit=2, offset=1)
    assert [row["Dân số"] for row in by_people["records"]] == [54321, 9870]
    assert by_people["total"] == 4
    assert "offset=3" in by_people["_links"]["next"]

    filtered = search(resource_id=rid, filters={"Ngày thành lập": "01/07/2025"})
    assert filtered["total"] == 3
    several = search(resource_id=rid, filters={"Mã xã": ["07204", "07222"]}, fields=["Tên xã"])
    assert several["records"] == [{"Tên xã": "Phường Bắc Giang"}, {"Tên xã": "Xã Tiên Lục"}]

    no_diacritics = search(resource_id=rid, q="dong viet")
    assert [row["Mã xã"] for row in no_diacritics["records"]] == ["07210"]
    assert search(resource_id=rid, q="ĐỒNG VIỆT")["total"] == 1

    lists = search(resource_id=rid, records_format="lists", fields="Mã xã,Dân số", sort="_id")
    assert lists["records"][:2] == [["07204", 1234567], ["07210", 8200]]
    csv_text = search(resource_id=rid, records_format="csv", fields=["Mã xã"], limit=2)
    assert csv_text["records"] == "07204\n07210\n"
    no_total = search(resource_id=rid, include_total=False)
    assert "total" not in no_total

    for bad in (
        {"filters": {"Không có": 1}},
        {"sort": "Không có desc"},
        {"filters": {"Dân số": "nhiều"}},
        {"fields": ["_search"]},
        {"records_format": "xml"},
        {"limit": 40000},
    ):
        with pytest.raises(ValidationError):
            search(resource_id=rid, **bad)


def _refused(remote: RemoteCKAN, tmp_path: Path, name: str, content: bytes, rid: str) -> str:
    with pytest.raises(ValidationError) as raised:
        _upload(remote, tmp_path, name, content, id=rid)
    messages = raised.value.error_dict["upload"]
    assert messages
    return " | ".join(messages)


def _formula_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Mã", "Giá trị"])
    sheet.append(["a", 1])
    sheet.append(["b", "=B2*2"])
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def test_bad_files_are_refused_and_the_previous_version_stays(
    catalogue: Catalogue,
    communes: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote, rid = catalogue.officer, communes["id"]
    wrong_encoding = "Mã;Tên\r\n1;Hà Nội\r\n".encode("cp1252", errors="replace")  # not UTF-8
    assert "UTF-8" in _refused(remote, tmp_path, "cu.csv", wrong_encoding, rid)
    ragged = b"a;b;c\r\n1;2;3\r\n4;5\r\n"
    assert "dòng 3" in _refused(remote, tmp_path, "le.csv", ragged, rid)
    assert "0 byte" in _refused(remote, tmp_path, "rong.csv", b"", rid)
    assert "B3" in _refused(remote, tmp_path, "cong-thuc.xlsx", _formula_workbook(), rid)
    ambiguous = "Mã;Giá trị\r\na;1.234\r\nb;2.500\r\n".encode()
    both = _refused(remote, tmp_path, "mo-ho.csv", ambiguous, rid)
    assert "1234" in both and "1,234" in both
    with pytest.raises(ValidationError):
        remote.action.datastore_create(
            resource_id=rid, fields=[{"id": "Dân số", "type": "date"}], force=True
        )
    monkeypatch.setattr(opendata_metadata, "UPLOAD_MAX_BYTES", 100)
    monkeypatch.setattr(opendata_api, "UPLOAD_MAX_BYTES", 100)
    assert "MB" in _refused(remote, tmp_path, "lon.csv", COMMUNES, rid)
    monkeypatch.undo()

    shown = catalogue.anonymous.action.resource_show(id=rid)
    assert shown["hash"] == "sha256:" + hashlib.sha256(COMMUNES).hexdigest()
    assert httpx.get(shown["url"], timeout=10).content == COMMUNES
    info = catalogue.anonymous.action.datastore_info(id=rid)
    assert info["meta"]["count"] == 4 and info["meta"]["generation"] == 1
    assert (
        catalogue.anonymous.action.datastore_search(resource_id=rid, limit=1)["records"][0][
            "Dân số"
        ]
        == 1234567
    )


def test_a_new_upload_replaces_the_rows_and_types_can_be_set(
    catalogue: Catalogue, communes: dict[str, Any], tmp_path: Path
) -> None:
    remote, rid = catalogue.officer, communes["id"]
    newer = "Mã xã,Tên xã,Dân số\r\n07204,Phường Bắc Giang,1250000\r\n".encode()
    updated = _upload(remote, tmp_path, "Xã phường 2026.csv", newer, id=rid)
    assert updated["hash"] == "sha256:" + hashlib.sha256(newer).hexdigest()
    info = catalogue.anonymous.action.datastore_info(id=rid)
    assert info["meta"]["count"] == 1 and info["meta"]["generation"] == 2
    assert info["schema"] == {"Mã xã": "text", "Tên xã": "text", "Dân số": "int"}

    retyped = remote.action.datastore_create(
        resource_id=rid, fields=[{"id": "Dân số", "type": "text"}], force=True
    )
    assert retyped["schema"]["Dân số"] == "text"
    row = catalogue.anonymous.action.datastore_search(resource_id=rid)["records"][0]
    assert row["Dân số"] == "1250000"
    with pytest.raises(ValidationError):
        remote.action.datastore_create(resource_id=rid, records=[{"a": 1}], force=True)

    declared = "Mã;Giá trị\r\na;1.234\r\n".encode()
    read_vi = _upload(remote, tmp_path, "so.csv", declared, id=rid, number_format="vi")
    assert read_vi["datastore_active"] is True
    value = catalogue.anonymous.action.datastore_search(resource_id=rid)["records"][0]["Giá trị"]
    assert value == 1234


def test_private_rows_are_seen_by_members_only_and_a_table_can_be_dropped(
    catalogue: Catalogue, communes: dict[str, Any]
) -> None:
    rid = communes["id"]
    catalogue.officer.action.package_patch(id=communes["package_id"], private=True)
    with pytest.raises(NotFound):
        catalogue.anonymous.action.datastore_search(resource_id=rid)
    with pytest.raises(NotFound):
        catalogue.other.action.datastore_info(id=rid)
    assert catalogue.viewer.action.datastore_search(resource_id=rid)["total"] == 4
    with pytest.raises(NotAuthorized):
        catalogue.viewer.action.datastore_delete(resource_id=rid, force=True)

    catalogue.officer.action.datastore_delete(resource_id=rid, force=True)
    assert catalogue.officer.action.resource_show(id=rid)["datastore_active"] is False
    with pytest.raises(NotFound):
        catalogue.officer.action.datastore_search(resource_id=rid)


def test_a_non_tabular_file_has_no_table(catalogue: Catalogue, tmp_path: Path) -> None:
    dataset = _dataset(catalogue, "Ranh giới")
    resource = _upload(
        catalogue.officer,
        tmp_path,
        "ranh-gioi.geojson",
        b'{"type": "FeatureCollection", "features": []}',
        package_id=dataset["id"],
    )
    assert resource["format"] == "GEOJSON" and resource["datastore_active"] is False
    with pytest.raises(NotFound):
        catalogue.anonymous.action.datastore_search(resource_id=resource["id"])


def test_a_table_downloads_as_csv_json_and_xlsx(
    catalogue: Catalogue, communes: dict[str, Any], tmp_path: Path
) -> None:
    rid = communes["id"]
    base = f"{catalogue.url}/datastore/dump/{rid}"
    as_csv = httpx.get(base, timeout=10)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-disposition"].endswith('.csv"')
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Mã xã,Tên xã,Dân số,Diện tích (km2),Ngày thành lập"
    assert lines[1] == "07204,Phường Bắc Giang,1234567,12.5,2025-07-01"
    assert len(lines) == 5
    as_json = httpx.get(base, params={"format": "json"}, timeout=10).json()
    assert as_json["fields"][2] == {"id": "Dân số", "type": "int"}
    assert as_json["records"][1] == ["07210", "Xã Đồng Việt", 8200, 45.25, "2025-07-01"]
    as_xlsx = httpx.get(base, params={"format": "xlsx"}, timeout=10)
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[1][:3] == ["07204", "Phường Bắc Giang", 1234567]
    assert httpx.get(base, params={"format": "xml"}, timeout=10).status_code == 422

    formula = 'Mã;Ghi chú\r\na;=HYPERLINK("http://x")\r\n'.encode()
    _upload(catalogue.officer, tmp_path, "cong-thuc.csv", formula, id=rid)
    neutral = httpx.get(base, timeout=10).content.decode("utf-8-sig").splitlines()[1]
    assert neutral.startswith("a,\"'=HYPERLINK")

    catalogue.officer.action.package_patch(id=communes["package_id"], private=True)
    assert httpx.get(base, timeout=10).status_code == 404
    member = httpx.get(base, headers={"Authorization": catalogue.viewer.apikey}, timeout=10)
    assert member.status_code == 200


def test_a_declared_composite_index_is_kept_across_uploads(
    catalogue: Catalogue, communes: dict[str, Any], tmp_path: Path
) -> None:
    remote, rid = catalogue.officer, communes["id"]
    declared = remote.action.datastore_create(
        resource_id=rid, indexes=["Ngày thành lập,Dân số"], force=True
    )
    assert declared["indexes"] == ["Ngày thành lập,Dân số"]
    with pytest.raises(ValidationError):
        remote.action.datastore_create(resource_id=rid, indexes=[["Không có"]], force=True)
    newer = COMMUNES.replace(b"8.200", b"8.300")
    _upload(remote, tmp_path, "Xã phường 2.csv", newer, id=rid)
    info = catalogue.anonymous.action.datastore_info(id=rid)
    assert info["indexes"] == ["Ngày thành lập,Dân số"]
    found = catalogue.anonymous.action.datastore_search(
        resource_id=rid, filters={"Ngày thành lập": "2025-07-01"}, sort="Dân số desc"
    )
    assert [row["Dân số"] for row in found["records"]] == [1234567, 9870, 8300]
