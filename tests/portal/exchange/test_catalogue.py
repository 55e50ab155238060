"""The exchange catalogue in the portal: browsing and searching (with and without
diacritics, by organisation and by system, paged), a service's page (data standard as tables,
downloads, limits, contact, the grants the viewer may see), publishing from an OpenAPI
document with line-precise errors, the lifecycle buttons, and who is refused what."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from tests.exchange.conftest import API, OPENAPI, SERVICE_PATH, request_payload, service_payload
from tests.portal.test_pages import form_token, log_in

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.exchange.conftest import ExchangeWorld
    from tests.registry.queries import QueryBudget

DOCUMENT_YAML = """\
openapi: 3.1.0
info:
  title: Tra cứu đăng ký kinh doanh
  description: Thông tin doanh nghiệp theo mã số thuế
  version: 1.0.0
  contact:
    name: Phòng Công nghệ thông tin
    email: cntt@sokhdt.example.vn
paths:
  /doanh-nghiep/{ma_so_thue}:
    get:
      summary: Một doanh nghiệp
      parameters:
        - name: ma_so_thue
          in: path
          required: true
          description: Mã số thuế
          schema:
            type: string
            pattern: "^[0-9]{10}$"
      responses:
        200:
          description: Doanh nghiệp
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/DoanhNghiep"
components:
  schemas:
    DoanhNghiep:
      type: object
      required: [ten]
      properties:
        ten:
          type: string
          description: Tên doanh nghiệp
        loai_hinh:
          type: string
          enum: [tnhh, co-phan]
        dia_chi:
          type: object
          properties:
            tinh:
              type: string
"""
BROKEN_LINE = DOCUMENT_YAML.splitlines().index("          in: path") + 1
BROKEN_YAML = DOCUMENT_YAML.replace("in: path", "in: duong-dan")


def _service_id(client: TestClient, organisation: str, system: str, code: str) -> int:
    page = client.get(f"/exchange/catalogue?organisation={organisation}&q={code}").text
    found = re.search(r'href="/exchange/catalogue/(\d+)"', page)
    assert found is not None, page
    return int(found.group(1))


def _publish_form(client: TestClient, **fields: Any) -> Any:
    page = client.get("/exchange/catalogue/new")
    assert page.status_code == 200
    data = {
        "provider": "so-yte/his",
        "code": "dang-ky-kinh-doanh",
        "version": "v1",
        "base_url": "https://10.20.30.41/api",
        "classification": "public",
        "csrf_token": form_token(page),
        **fields,
    }
    return client.post("/exchange/catalogue/new", data=data, follow_redirects=False)


def test_search_finds_a_service_with_and_without_diacritics_and_filters_by_owner(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    response = client.post(
        f"{API}/services",
        json=service_payload(code="benh-an", name_vi="Bệnh án điện tử", name_en=None),
        headers=exchange_world.admin.headers,
    )
    assert response.status_code == 201, response.text
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    everything = client.get("/exchange/catalogue").text
    assert "Tra cứu hồ sơ sức khỏe" in everything
    assert "Bệnh án điện tử" not in everything  # a draft: only its provider's officials
    for query in ("hồ sơ sức khỏe", "ho so suc khoe", "HO  SO", "suc-khoe", "sức khoẻ"[:6]):
        page = client.get("/exchange/catalogue", params={"q": query}).text
        assert "Tra cứu hồ sơ sức khỏe" in page, query
    assert "Không có dịch vụ nào" in client.get("/exchange/catalogue?q=thue+dat").text
    assert "Tra cứu hồ sơ sức khỏe" in client.get("/exchange/catalogue?organisation=so-yte").text
    other = client.get("/exchange/catalogue?organisation=ubnd-viet-yen").text
    assert "Tra cứu hồ sơ sức khỏe" not in other
    assert "Tra cứu hồ sơ sức khỏe" in client.get("/exchange/catalogue?system=so-yte/his").text
    assert client.get("/exchange/catalogue?page=0").status_code == 422
    assert client.get("/exchange/catalogue?q=" + "x" * 300).status_code == 422

    client.cookies.clear()
    assert log_in(client, exchange_world.provider_viewer.username).status_code == 303
    mine = client.get("/exchange/catalogue?q=benh an dien tu").text
    assert "Bệnh án điện tử" in mine and "Bản nháp" in mine


def test_the_catalogue_pages_through_many_services(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    for number in range(30):
        response = client.post(
            f"{API}/services",
            json=service_payload(code=f"dich-vu-{number:02d}", name_vi=f"Dịch vụ {number:02d}"),
            headers=exchange_world.admin.headers,
        )
        assert response.status_code == 201, response.text
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    first = client.get("/exchange/catalogue?q=dich vu").text
    assert "30 dịch vụ" in first
    assert first.count("card-title") == 25 and 'rel="next"' in first
    second = client.get("/exchange/catalogue?q=dich vu&page=2").text
    assert second.count("card-title") == 5 and 'rel="prev"' in second
    assert "Dịch vụ 29" in second and "Dịch vụ 29" not in first


def test_the_service_page_shows_the_standard_limits_contact_and_visible_grants(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    asked = client.post(
        f"{API}/requests", json=request_payload(), headers=exchange_world.consumer_officer.headers
    )
    assert asked.status_code == 201, asked.text
    approved = client.post(
        f"{API}/requests/{asked.json()['id']}/approve",
        json={"allowed_methods": ["GET"], "quota_per_day": 1500},
        headers=exchange_world.provider_admin.headers,
    )
    assert approved.status_code == 201, approved.text
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    service_id = _service_id(client, "so-yte", "his", "ho-so-suc-khoe")
    page = client.get(f"/exchange/catalogue/{service_id}").text
    assert '<span class="operation-path">/citizens/{id}</span>' in page
    assert "ma_dinh_danh" in page and "pattern: ^[0-9]{12}$" in page  # the request schema
    assert "10.000 ms" in page  # Vietnamese number format
    assert "ubnd-viet-yen/mot-cua" in page and "1.500" in page  # their own grant
    assert 'href="/exchange/requests/new?service=so-yte/his/ho-so-suc-khoe/v1"' in page
    assert 'id="move-' not in page  # no lifecycle buttons for a consumer
    form = client.get("/exchange/requests/new?service=so-yte/his/ho-so-suc-khoe/v1").text
    assert 'value="so-yte/his/ho-so-suc-khoe/v1" selected' in form

    downloaded = client.get(f"/exchange/catalogue/{service_id}/openapi?format=json")
    assert downloaded.status_code == 200
    assert "attachment" in downloaded.headers["content-disposition"]
    assert json.loads(downloaded.text) == OPENAPI
    as_yaml = client.get(f"/exchange/catalogue/{service_id}/openapi?format=yaml")
    assert yaml.safe_load(as_yaml.text) == OPENAPI
    assert client.get(f"/exchange/catalogue/{service_id}/openapi?format=xml").status_code == 422

    client.cookies.clear()
    assert log_in(client, exchange_world.outsider.username).status_code == 303
    page = client.get(f"/exchange/catalogue/{service_id}").text
    assert "ubnd-viet-yen/mot-cua" not in page  # someone else's grant
    assert client.get(f"/exchange/catalogue/{service_id + 1000}").status_code == 404
    assert client.get(f"/exchange/catalogue/{2**40}").status_code == 404


def test_a_draft_is_hidden_from_other_organisations(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    response = client.post(
        f"{API}/services", json=service_payload(code="nhap"), headers=exchange_world.admin.headers
    )
    assert response.status_code == 201, response.text
    assert log_in(client, exchange_world.provider_viewer.username).status_code == 303
    service_id = _service_id(client, "so-yte", "his", "nhap")
    assert client.get(f"/exchange/catalogue/{service_id}").status_code == 200
    client.cookies.clear()
    assert log_in(client, exchange_world.outsider.username).status_code == 303
    assert client.get(f"/exchange/catalogue/{service_id}").status_code == 404
    assert client.get(f"/exchange/catalogue/{service_id}/openapi").status_code == 404


def test_an_officer_publishes_from_openapi_with_line_precise_errors(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    refused = _publish_form(client, document=BROKEN_YAML)
    assert refused.status_code == 422
    assert f"Dòng {BROKEN_LINE}:" in refused.text
    assert "duong-dan" in refused.text  # the document is shown again to correct
    broken_json = json.dumps(yaml.safe_load(DOCUMENT_YAML), indent=2).replace('"info"', '"info" x')
    refused = client.post(
        "/exchange/catalogue/new",
        data={
            "provider": "so-yte/his",
            "code": "dang-ky-kinh-doanh",
            "base_url": "https://10.20.30.41/api",
            "csrf_token": form_token(client.get("/exchange/catalogue/new")),
        },
        files={"document_file": ("api.json", broken_json.encode(), "application/json")},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "Dòng 3:" in refused.text, refused.text
    assert "JSON không hợp lệ" in refused.text

    made = _publish_form(client, document=DOCUMENT_YAML)
    assert made.status_code == 303, made.text
    service_id = int(made.headers["location"].rsplit("/", 1)[1])
    state = client.get(
        f"{API}/services/so-yte/his/dang-ky-kinh-doanh/v1",
        headers=exchange_world.provider_officer.headers,
    ).json()
    assert state["status"] == "draft"
    assert state["name_vi"] == "Tra cứu đăng ký kinh doanh"  # from the document's title
    assert state["classification"] == "public"
    page = client.get(f"/exchange/catalogue/{service_id}").text
    assert "Phòng Công nghệ thông tin" in page and "cntt@sokhdt.example.vn" in page
    assert "dia_chi.tinh" in page and "enum: tnhh, co-phan" in page
    assert "ma_so_thue" in page and "pattern: ^[0-9]{10}$" in page
    assert 'id="move-published"' in page and 'id="move-retired"' in page

    again = _publish_form(client, document=DOCUMENT_YAML)
    assert again.status_code == 422 and "đã tồn tại" in again.text

    def move(target: str) -> Any:
        token = form_token(client.get(f"/exchange/catalogue/{service_id}"))
        return client.post(
            f"/exchange/catalogue/{service_id}/status",
            data={"status": target, "csrf_token": token},
            follow_redirects=False,
        )

    assert move("published").status_code == 303
    assert move("published").status_code == 409  # published -> published is not a move
    assert move("nonsense").status_code == 409
    assert move("deprecated").status_code == 303
    assert move("retired").status_code == 303
    page = client.get(f"/exchange/catalogue/{service_id}").text
    assert "Ngừng sử dụng" in page and 'id="move-' not in page
    assert re.search(r'id="retired-at">\d{2}/\d{2}/\d{4}', page)
    state = client.get(
        f"{API}/services/so-yte/his/dang-ky-kinh-doanh/v1",
        headers=exchange_world.provider_officer.headers,
    ).json()
    assert state["status"] == "retired"


def test_officials_without_the_right_are_refused_in_the_browser(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.provider_viewer.username).status_code == 303
    page = client.get("/exchange/catalogue/new")
    assert page.status_code == 200 and 'id="not-a-provider"' in page.text
    assert 'action="/exchange/catalogue/new"' not in page.text
    refused = client.post(
        "/exchange/catalogue/new",
        data={"provider": "so-yte/his", "document": DOCUMENT_YAML, "csrf_token": form_token(page)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "không phải cán bộ" in refused.text
    service_id = _service_id(client, "so-yte", "his", "ho-so-suc-khoe")
    service_page = client.get(f"/exchange/catalogue/{service_id}")
    assert 'id="move-' not in service_page.text
    refused = client.post(
        f"/exchange/catalogue/{service_id}/status",
        data={"status": "deprecated", "csrf_token": form_token(service_page)},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "không phải cán bộ" in refused.text

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    page = client.get("/exchange/catalogue/new")
    refused = client.post(
        "/exchange/catalogue/new",
        data={"provider": "so-yte/his", "document": DOCUMENT_YAML, "csrf_token": form_token(page)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    state = client.get(f"{SERVICE_PATH}", headers=exchange_world.admin.headers).json()
    assert state["status"] == "published"


def test_the_catalogue_sends_as_many_queries_for_many_services_as_for_few(
    client: TestClient, exchange_world: ExchangeWorld, query_budget: QueryBudget
) -> None:
    made = 0

    def grow() -> None:
        nonlocal made
        for _ in range(8):
            made += 1
            code = f"dich-vu-{made}"
            response = client.post(
                f"{API}/services",
                json=service_payload(code=code),
                headers=exchange_world.admin.headers,
            )
            assert response.status_code == 201, response.text
            client.post(
                f"{API}/services/so-yte/his/{code}/v1/status",
                json={"status": "published"},
                headers=exchange_world.admin.headers,
            )

    sizes: list[int] = []
    for viewer in (exchange_world.admin, exchange_world.consumer_officer):
        client.cookies.clear()
        assert log_in(client, viewer.username).status_code == 303
        sizes.clear()

        def fetch() -> None:
            page = client.get("/exchange/catalogue?q=suc khoe")
            assert page.status_code == 200
            sizes.append(page.text.count("card-title"))

        query_budget.flat(fetch, grow, budget=14)
        assert sizes[1] > sizes[0]


def test_the_provider_changes_the_limits_and_others_may_not(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    service_id = _service_id(client, "so-yte", "his", "ho-so-suc-khoe")

    def change(**limits: str) -> Any:
        token = form_token(client.get(f"/exchange/catalogue/{service_id}"))
        return client.post(
            f"/exchange/catalogue/{service_id}/limits",
            data={**limits, "csrf_token": token},
            follow_redirects=False,
        )

    refused = change(timeout_ms="50", max_request_bytes="2048", max_response_bytes="4096")
    assert refused.status_code == 422 and 'id="lim-timeout_ms-error"' in refused.text
    assert 'value="50"' in refused.text  # the typed values stay in the form
    assert (
        change(timeout_ms="abc", max_request_bytes="1", max_response_bytes="1").status_code == 422
    )
    state = client.get(SERVICE_PATH, headers=exchange_world.admin.headers).json()
    assert state["timeout_ms"] == 10_000  # nothing written
    assert (
        change(timeout_ms="5.000", max_request_bytes="2048", max_response_bytes="4096").status_code
        == 303
    )
    state = client.get(SERVICE_PATH, headers=exchange_world.admin.headers).json()
    assert (state["timeout_ms"], state["max_request_bytes"], state["max_response_bytes"]) == (
        5000,
        2048,
        4096,
    )
    assert "5.000 ms" in client.get(f"/exchange/catalogue/{service_id}").text

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_admin.username).status_code == 303
    page = client.get(f"/exchange/catalogue/{service_id}")
    assert 'id="limits-form"' not in page.text
    refused = client.post(
        f"/exchange/catalogue/{service_id}/limits",
        data={"timeout_ms": "200", "csrf_token": form_token(page)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    state = client.get(SERVICE_PATH, headers=exchange_world.admin.headers).json()
    assert state["timeout_ms"] == 5000


def test_the_catalogue_reads_in_english(client: TestClient, exchange_world: ExchangeWorld) -> None:
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    client.get("/lang/en", follow_redirects=False)
    listing = client.get("/exchange/catalogue?q=health").text
    assert "Service catalogue" in listing and "Health record lookup" in listing
    assert "Danh mục dịch vụ" not in listing
    service_id = _service_id(client, "so-yte", "his", "ho-so-suc-khoe")
    page = client.get(f"/exchange/catalogue/{service_id}").text
    assert "Who may use it" in page and "Data standard" in page and "Chuẩn dữ liệu" not in page


def test_a_renamed_service_is_found_by_its_new_name(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    renamed = client.patch(
        SERVICE_PATH,
        json={"name_vi": "Tra cứu sổ khám bệnh điện tử", "description_vi": "Dành cho Đoàn xã"},
        headers=exchange_world.provider_officer.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    for query, found in (
        ("so kham benh", True),
        ("doan xa", True),
        ("khám bệnh", True),
        ("thue dat", False),
    ):
        page = client.get("/exchange/catalogue", params={"q": query}).text
        assert ("Tra cứu sổ khám bệnh điện tử" in page) is found, query
