"""Every change of a dataset is kept with the dataset as it was after it (CKAN's activity
stream, ``package_activity_list``), newest first, seen by whoever may see the dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from ckanapi import NotFound

from tests.opendata.conftest import PUBLISHER

if TYPE_CHECKING:
    from pathlib import Path

    from tests.opendata.conftest import Catalogue


def test_each_change_is_kept_with_the_metadata_it_left(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    officer = catalogue.officer
    created = officer.action.package_create(
        title="Danh sách chợ truyền thống", owner_org=PUBLISHER, notes="Bản đầu"
    )
    officer.action.package_patch(id=created["id"], notes="Bản sửa: thêm chợ Đồng Xuân")
    upload = tmp_path / "cho.csv"
    upload.write_bytes("ma,ten\r\n1,Chợ Đồng Xuân\r\n".encode())
    with upload.open("rb") as file:
        officer.action.resource_create(package_id=created["id"], upload=file)

    found = catalogue.anonymous.action.package_activity_list(id=created["name"])
    assert [item["activity_type"] for item in found] == [
        "changed package",
        "changed package",
        "new package",
    ]
    assert found[2]["data"]["package"]["notes"] == "Bản đầu"
    assert found[1]["data"]["package"]["notes"] == "Bản sửa: thêm chợ Đồng Xuân"
    assert found[0]["data"]["package"]["num_resources"] == 1
    assert found[0]["user_id"] is not None
    assert all(item["object_id"] == created["id"] for item in found)
    assert len(catalogue.anonymous.action.package_activity_list(id=created["id"], limit=1)) == 1

    officer.action.package_patch(id=created["id"], private=True)
    with pytest.raises(NotFound):
        catalogue.anonymous.action.package_activity_list(id=created["id"])
    assert catalogue.viewer.action.package_activity_list(id=created["id"])[0]["data"]["package"][
        "private"
    ]
    officer.action.package_delete(id=created["id"])
    latest = catalogue.viewer.action.package_activity_list(id=created["id"])[0]
    assert latest["activity_type"] == "deleted package"
