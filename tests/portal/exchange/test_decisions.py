"""Connection requests decided in the portal (Decree 194/2025): the provider's admin approves
(narrowing) or refuses in writing; the page is then the written decision for both parties;
everyone else is refused, and a refusal without a reason is refused."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.exchange.conftest import API, request_payload
from tests.portal.test_pages import form_token, log_in

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.exchange.conftest import ExchangeWorld


def _pending(client: TestClient, world: ExchangeWorld) -> int:
    response = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    )
    assert response.status_code == 201, response.text
    request_id: int = response.json()["id"]
    return request_id


def _decide(client: TestClient, request_id: int, action: str, **fields: object) -> tuple[int, str]:
    page = client.get(f"/exchange/requests/{request_id}")
    answer = client.post(
        f"/exchange/requests/{request_id}/{action}",
        data={**fields, "csrf_token": form_token(page)},
        follow_redirects=False,
    )
    return answer.status_code, answer.text


def test_the_provider_admin_refuses_in_writing_and_both_parties_read_it(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    request_id = _pending(client, exchange_world)
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    queue = client.get("/exchange").text
    assert f'href="/exchange/requests/{request_id}"' in queue
    status, text = _decide(client, request_id, "refuse", reason="ngắn")
    assert status == 422
    assert "ít nhất 10 ký tự" in text
    reason = "Mục đích chưa nêu rõ căn cứ pháp lý cho dữ liệu cá nhân."
    status, _ = _decide(client, request_id, "refuse", reason=reason)
    assert status == 303
    state = client.get(
        f"{API}/requests/{request_id}", headers=exchange_world.provider_admin.headers
    )
    assert state.json()["status"] == "refused"
    assert state.json()["decision_reason"] == reason

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    page = client.get(f"/exchange/requests/{request_id}").text
    assert "Đã từ chối" in page and reason in page
    assert "Từ chối bằng văn bản" not in page  # no decision form for the requester
    assert "data-print" in page


def test_the_provider_admin_approves_narrowing_the_methods(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    request_id = _pending(client, exchange_world)
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    requested = request_payload()["requested_methods"]
    status, text = _decide(client, request_id, "approve", methods=["GET"], quota_per_day="1 000")
    assert status == 422 and 'id="quota-error"' in text
    status, _ = _decide(client, request_id, "approve", methods=["GET"], quota_per_day="5000")
    assert status == 303
    grants = client.get(f"{API}/grants", headers=exchange_world.provider_admin.headers).json()
    grant = next(g for g in grants["items"] if g["connection_request_id"] == request_id)
    assert grant["allowed_methods"] == ["GET"]
    assert grant["quota_per_day"] == 5000
    assert set(requested) >= {"GET"}
    again = client.get(f"/exchange/requests/{request_id}").text
    assert "Đã chấp thuận" in again and "Chấp thuận và cấp quyền" not in again


def test_only_the_providers_admins_decide(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    request_id = _pending(client, exchange_world)
    for official in (
        exchange_world.provider_officer,
        exchange_world.consumer_admin,
    ):
        client.cookies.clear()
        assert log_in(client, official.username).status_code == 303
        page = client.get(f"/exchange/requests/{request_id}")
        assert page.status_code == 200
        assert "Từ chối bằng văn bản" not in page.text
        status, text = _decide(
            client, request_id, "refuse", reason="Không đủ căn cứ pháp lý để chia sẻ."
        )
        assert status == 403, official.username
        assert "Bạn không có quyền quản trị tổ chức này" in text
    client.cookies.clear()
    assert log_in(client, exchange_world.outsider.username).status_code == 303
    assert client.get(f"/exchange/requests/{request_id}").status_code == 403
    state = client.get(f"{API}/requests/{request_id}", headers=exchange_world.admin.headers)
    assert state.json()["status"] == "pending"


def test_an_unknown_request_is_404(client: TestClient, exchange_world: ExchangeWorld) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    assert client.get("/exchange/requests/999999").status_code == 404
    assert re.search(r"Không tìm thấy", client.get("/exchange/requests/999999").text)


def test_a_consumer_officer_requests_a_connection_in_the_portal(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    home = client.get("/exchange").text
    key = "so-yte/his/ho-so-suc-khoe/v1"
    assert f'href="/exchange/requests/new?service={key}"' in home
    page = client.get(f"/exchange/requests/new?service={key}")
    assert page.status_code == 200
    assert 'value="ubnd-viet-yen/mot-cua"' in page.text  # the officer's consumer system
    assert 'value="so-yte/his"' not in page.text  # not theirs
    fields = {
        "service": key,
        "consumer": "ubnd-viet-yen/mot-cua",
        "purpose": "ngắn",
        "legal_basis": "NĐ 194/2025/NĐ-CP",
        "paths": "citizens/{id}",
        "csrf_token": form_token(page),
    }
    bad = client.post("/exchange/requests/new", data=fields)
    assert bad.status_code == 422
    for name in ("purpose", "methods", "paths"):
        assert f'id="req-{name}-error"' in bad.text, name
    good = client.post(
        "/exchange/requests/new",
        data={
            **fields,
            "purpose": "Giải quyết thủ tục hành chính cho công dân tại bộ phận một cửa",
            "methods": ["GET"],
            "paths": "/citizens/{id}\n",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    request_id = int(good.headers["location"].rsplit("/", 1)[1])
    state = client.get(f"{API}/requests/{request_id}", headers=exchange_world.admin.headers).json()
    assert state["status"] == "pending"
    assert state["requested_paths"] == ["/citizens/{id}"]
    shown = client.get(f"/exchange/requests/{request_id}").text
    assert "Chờ quyết định" in shown and "Hạn trả lời" in shown
    own = re.search(r'id="own-requests">(.*?)</table>', client.get("/exchange").text, re.DOTALL)
    assert own is not None
    assert f'href="/exchange/requests/{request_id}"' in own[1] and "Chờ quyết định" in own[1]
    again = client.post(
        "/exchange/requests/new",
        data={**fields, "purpose": "Giải quyết thủ tục hành chính", "methods": ["GET"],
              "paths": "/citizens/{id}", "csrf_token": form_token(client.get("/exchange/requests/new"))},
    )  # fmt: skip
    assert again.status_code == 422
    assert f"đang chờ xử lý (số {request_id})" in again.text


def test_someone_without_a_consumer_system_is_told_so(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.outsider.username).status_code == 303
    page = client.get("/exchange/requests/new")
    assert page.status_code == 200
    assert "không thể đề nghị kết nối" in page.text


def test_either_partys_admin_revokes_the_grant_with_a_reason(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    request_id = _pending(client, exchange_world)
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    assert _decide(client, request_id, "approve", methods=["GET"])[0] == 303
    page = client.get(f"/exchange/requests/{request_id}").text
    assert "Đang hiệu lực" in page and "Thu hồi quyền" in page

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    page = client.get(f"/exchange/requests/{request_id}").text
    assert "Đang hiệu lực" in page and "Thu hồi quyền" not in page  # an officer, not an admin
    assert _decide(client, request_id, "revoke", reason="Hệ thống ngừng sử dụng dịch vụ")[0] == 403

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_admin.username).status_code == 303
    status, text = _decide(client, request_id, "revoke", reason="ngắn")
    assert status == 422 and 'id="revoke-error"' in text
    reason = "Hệ thống một cửa ngừng sử dụng dịch vụ từ tháng sau"
    assert _decide(client, request_id, "revoke", reason=reason)[0] == 303
    grants = client.get(f"{API}/grants", headers=exchange_world.admin.headers).json()["items"]
    grant = next(g for g in grants if g["connection_request_id"] == request_id)
    assert grant["revoked_at"] is not None
    page = client.get(f"/exchange/requests/{request_id}").text
    assert "Đã thu hồi" in page and reason in page


def _grant_of(client: TestClient, world: ExchangeWorld, request_id: int) -> dict[str, object]:
    grants = client.get(f"{API}/grants", headers=world.admin.headers).json()["items"]
    found: dict[str, object] = next(g for g in grants if g["connection_request_id"] == request_id)
    return found


def test_the_grant_is_suspended_resumed_and_narrowed_in_the_portal(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    request_id = _pending(client, exchange_world)
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    assert (
        _decide(client, request_id, "approve", methods=["GET", "POST"], quota_per_day="500")[0]
        == 303
    )

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_admin.username).status_code == 303
    page = client.get(f"/exchange/requests/{request_id}").text
    assert "Tạm dừng quyền khai thác" in page
    assert "Thu hẹp quyền khai thác" not in page  # the provider narrows what it grants
    assert _decide(client, request_id, "narrow", methods=["GET"])[0] == 403
    status, text = _decide(client, request_id, "suspend", reason="ngắn")
    assert status == 422 and 'id="suspend-error"' in text
    reason = "Nghi lộ khoá bí mật, đang rà soát"
    assert _decide(client, request_id, "suspend", reason=reason)[0] == 303
    assert _grant_of(client, exchange_world, request_id)["suspended_reason"] == reason
    page = client.get(f"/exchange/requests/{request_id}").text
    assert reason in page and "Cho khai thác trở lại" in page
    assert _decide(client, request_id, "resume")[0] == 303
    assert _grant_of(client, exchange_world, request_id)["suspended_at"] is None

    client.cookies.clear()
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    status, text = _decide(client, request_id, "narrow", methods=["GET"], quota_per_day="900")
    assert status == 422 and 'id="narrow-error"' in text and "500" in text  # never widened
    assert _decide(client, request_id, "narrow", methods=["GET"], quota_per_day="100")[0] == 303
    narrowed = _grant_of(client, exchange_world, request_id)
    assert narrowed["allowed_methods"] == ["GET"] and narrowed["quota_per_day"] == 100
