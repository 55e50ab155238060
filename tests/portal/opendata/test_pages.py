"""The open data portal's public pages: search without diacritics and facets, a dataset with
its resources, a datastore preview in the page's number format, downloads and how to cite;
private datasets invisible to the public; as many queries for many datasets as for few."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.opendata.conftest import PUBLISHER

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient

    from tests.opendata.conftest import Catalogue
    from tests.registry.queries import QueryBudget

SCHOOLS = (
    "Mã trường;Tên trường;Số học sinh\r\n"
    "T01;Trường Tiểu học Đồng Xuân;1.234\r\n"
    "T02;Trường Tiểu học Việt Yên;987\r\n"
    "T03;Trường THCS Bắc Giang;1.502,5\r\n"
).encode()


def _schools(catalogue: Catalogue, tmp_path: Path, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = catalogue.officer.action.package_create(
        title="Danh sách trường học tiểu học",
        owner_org=PUBLISHER,
        notes="Các trường tiểu học và số học sinh.",
        license_id="cc-by-4.0",
        tags=[{"name": "giáo dục"}],
        groups=[{"name": "giao-duc"}],
        **fields,
    )
    path = tmp_path / "truong-hoc.csv"
    path.write_bytes(SCHOOLS)
    with path.open("rb") as file:
        catalogue.officer.action.resource_create(
            package_id=created["id"], name="Danh sách trường", upload=file
        )
    return created


def test_anyone_finds_a_dataset_without_diacritics_and_previews_it(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    created = _schools(catalogue, tmp_path)
    home = httpx.get(f"{catalogue.url}/opendata", timeout=10)
    assert home.status_code == 200 and "Giáo dục và đào tạo" in home.text
    found = httpx.get(f"{catalogue.url}/opendata", params={"q": "truong hoc"}, timeout=10)
    assert found.status_code == 200
    assert f'href="/opendata/datasets/{created["name"]}"' in found.text
    assert "Tìm thấy 1 bộ dữ liệu" in found.text
    assert "opendata?q=truong+hoc&amp;res_format=CSV" in found.text  # a facet link
    filtered = httpx.get(
        f"{catalogue.url}/opendata", params={"q": "truong hoc", "res_format": "PDF"}, timeout=10
    )
    assert "Không có bộ dữ liệu nào phù hợp" in filtered.text

    page = httpx.get(f"{catalogue.url}/opendata/datasets/{created['name']}", timeout=10)
    assert page.status_code == 200
    assert "Trường Tiểu học Đồng Xuân" in page.text  # the preview
    assert "1.502,5" in page.text and "1.234" in page.text  # Vietnamese number format
    assert "/datastore/dump/" in page.text and "?format=xlsx" in page.text
    assert 'id="how-to-cite"' in page.text and "Danh sách trường học tiểu học" in page.text
    english = httpx.get(
        f"{catalogue.url}/opendata/datasets/{created['name']}",
        cookies={"tinhso_lang": "en"},
        timeout=10,
    )
    assert english.status_code == 200


def test_a_corrected_search_says_what_it_searched_for_instead(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    created = _schools(catalogue, tmp_path)
    found = httpx.get(f"{catalogue.url}/opendata", params={"q": "truong hco"}, timeout=10)
    assert found.status_code == 200
    assert f'href="/opendata/datasets/{created["name"]}"' in found.text
    assert "Không tìm thấy 'truong hco'. Kết quả cho 'trường học'." in found.text
    english = httpx.get(
        f"{catalogue.url}/opendata",
        params={"q": "truong hco"},
        cookies={"tinhso_lang": "en"},
        timeout=10,
    )
    assert "Nothing found for 'truong hco'. Results for 'trường học'." in (english.text)
    exact = httpx.get(f"{catalogue.url}/opendata", params={"q": "truong hoc"}, timeout=10)
    assert "Kết quả cho" not in exact.text
    # what is shown of the query is the reader's text, escaped
    hostile = httpx.get(f"{catalogue.url}/opendata", params={"q": "<b>truong</b> hco"}, timeout=10)
    assert hostile.status_code == 200 and "<b>truong" not in hostile.text


def test_a_private_dataset_is_not_shown_to_the_public(catalogue: Catalogue, tmp_path: Path) -> None:
    created = _schools(catalogue, tmp_path, private=True)
    listing = httpx.get(f"{catalogue.url}/opendata", params={"q": "truong hoc"}, timeout=10)
    assert created["name"] not in listing.text
    page = httpx.get(f"{catalogue.url}/opendata/datasets/{created['name']}", timeout=10)
    assert page.status_code == 404


def test_the_search_page_sends_as_many_queries_for_many_datasets_as_for_few(
    catalogue: Catalogue, client: TestClient, query_budget: QueryBudget
) -> None:
    made = 0

    def grow() -> None:
        nonlocal made
        for _ in range(6):
            made += 1
            catalogue.officer.action.package_create(
                title=f"Trường học số {made}",
                owner_org=PUBLISHER,
                tags=[{"name": f"khoá {made}"}],
                resources=[{"url": f"https://example.org/{made}.csv"}],
            )

    grow()

    def fetch() -> None:
        assert client.get("/opendata", params={"q": "truong hoc"}).status_code == 200

    query_budget.flat(fetch, grow, budget=16)
