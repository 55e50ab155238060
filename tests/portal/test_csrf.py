"""One CSRF token per portal session: the token a page embeds is the one the portal's
form check and the API's cookie check both expect (all three go through
`tinhso.registry.auth.csrf_token_for`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.portal.test_pages import form_token, log_in
from tinhso.registry.auth import SESSION_COOKIE, csrf_token_for

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.conftest import MakeOfficial
    from tinhso.core.config import Settings

NEW_DEPARTMENT = {
    "code": "so-gtvt",
    "name_vi": "Sở Giao thông vận tải",
    "kind": "department",
    "parent_code": "ubnd-tinh",
}


def test_page_token_is_the_one_the_portal_and_the_api_accept(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    settings: Settings,
) -> None:
    official = make_official(platform_admin=True, username="quan-tri-csrf")
    assert log_in(client, official.username).status_code == 303
    session_token = client.cookies.get(SESSION_COOKIE)
    assert session_token
    page = client.get("/")
    token = form_token(page)
    expected = csrf_token_for(settings.secret_key.get_secret_value(), session_token)
    # Each page carries the session's token under a fresh mask (pages are gzip-compressed:
    # no byte of the token repeats from page to page for BREACH to guess).
    assert page.headers["content-encoding"] == "gzip"
    raw = bytes.fromhex(token)
    assert bytes(a ^ b for a, b in zip(raw[32:], raw[:32], strict=True)).hex() == expected
    again = form_token(client.get("/"))
    assert again != token and len(again) == len(token) == 128
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and form_token(plain) not in (token, again)

    # the API refuses a cookie write without the token, or with another session's token
    assert client.post("/api/v1/organisations", json=NEW_DEPARTMENT).status_code == 403
    other = csrf_token_for(settings.secret_key.get_secret_value(), session_token + "x")
    refused = client.post(
        "/api/v1/organisations", json=NEW_DEPARTMENT, headers={"X-CSRF-Token": other}
    )
    assert refused.status_code == 403
    assert [e["field"] for e in refused.json()["errors"]] == ["x-csrf-token"]
    # ...and accepts the page's token, masked or not
    assert (
        client.post(
            "/api/v1/organisations",
            json={**NEW_DEPARTMENT, "code": "so-khac"},
            headers={"X-CSRF-Token": expected},
        ).status_code
        == 201
    )
    created = client.post(
        "/api/v1/organisations", json=NEW_DEPARTMENT, headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 201, created.text

    # the portal refuses another session's token in a form, and accepts the page's
    assert (
        client.post("/logout", data={"csrf_token": other}, follow_redirects=False).status_code
        == 403
    )
    assert client.get("/").status_code == 200  # still logged in
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code in {302, 303, 307}
