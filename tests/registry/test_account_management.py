"""Administrators disable, enable, unlock officials and reset their passwords (API), on both
databases: a disabled official's tokens stop at once, a reset ends every session, an unlock
lifts the lock; an organisation admin cannot manage someone who also works elsewhere, a
platform admin, or themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import TEST_PASSWORD
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.conftest import MakeOfficial, Official

USERS = "/api/v1/users"
TOKENS = "/api/v1/auth/tokens"


def _me(client: TestClient, official: Official) -> int:
    return client.get(f"{USERS}/me", headers=official.headers).status_code


def test_disable_reset_and_unlock(
    client: TestClient, province_tree: dict[str, str], make_official: MakeOfficial
) -> None:
    admin = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    officer = make_official(Role.OFFICER, "so-tttt")
    assert _me(client, officer) == 200
    disabled = client.patch(
        f"{USERS}/{officer.username}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert _me(client, officer) == 401  # the token stopped at once
    refused = client.post(TOKENS, json={"username": officer.username, "password": TEST_PASSWORD})
    assert refused.status_code == 401
    client.patch(f"{USERS}/{officer.username}", json={"is_active": True}, headers=admin.headers)
    token = client.post(TOKENS, json={"username": officer.username, "password": TEST_PASSWORD})
    assert token.status_code in (200, 201)
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    reset = client.post(f"{USERS}/{officer.username}/password-reset", headers=admin.headers)
    assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
    password = reset.json()["password"]
    assert len(password) >= 12
    assert client.get(f"{USERS}/me", headers=headers).status_code == 401  # sessions ended
    old = client.post(TOKENS, json={"username": officer.username, "password": TEST_PASSWORD})
    assert old.status_code == 401
    new = client.post(TOKENS, json={"username": officer.username, "password": password})
    assert new.status_code in (200, 201)

    for _ in range(12):  # wrong passwords until the account waits
        client.post(TOKENS, json={"username": officer.username, "password": "sai-mat-khau"})
    waiting = client.post(TOKENS, json={"username": officer.username, "password": password})
    assert waiting.status_code == 429
    unlocked = client.post(f"{USERS}/{officer.username}/unlock", headers=admin.headers)
    assert unlocked.status_code == 200
    again = client.post(TOKENS, json={"username": officer.username, "password": password})
    assert again.status_code in (200, 201), again.text


def test_who_may_manage_whom(
    client: TestClient,
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    admin: Official,
) -> None:
    tttt_admin = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    both = make_official(Role.OFFICER, "so-tttt")
    client.put(
        f"{USERS}/{both.username}/roles",
        json={"organisation_code": "so-yte", "role": "viewer"},
        headers=admin.headers,
    )
    assert (
        client.patch(
            f"{USERS}/{both.username}", json={"is_active": False}, headers=tttt_admin.headers
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"{USERS}/{admin.username}", json={"is_active": False}, headers=tttt_admin.headers
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"{USERS}/{tttt_admin.username}", json={"is_active": False}, headers=tttt_admin.headers
        ).status_code
        == 403
    )
    assert (
        client.post(f"{USERS}/{admin.username}/password-reset", headers=admin.headers).status_code
        == 403
    )  # not oneself
    # The platform admin manages the official who works in two organisations.
    assert (
        client.patch(
            f"{USERS}/{both.username}", json={"is_active": False}, headers=admin.headers
        ).status_code
        == 200
    )
