"""Client credentials in the portal: a system's administrators create a secret shown once,
rotate it (the old one stops working), unlock and revoke; nobody else sees or touches them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sqlalchemy import select

from tests.exchange.conftest import API, basic_auth
from tests.portal.test_pages import form_token, log_in
from tinhso.core.db import utcnow
from tinhso.exchange.models import SystemCredential

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx2 import Response
    from sqlalchemy.orm import Session, sessionmaker

    from tests.exchange.conftest import ExchangeWorld
    from tests.registry.queries import QueryBudget

PAGE = "/exchange/credentials"
_SECRET = re.compile(r'id="issued-secret">([^<]+)<')
_CLIENT = re.compile(r'id="issued-client-id">([^<]+)<')


def _post(client: TestClient, path: str, **fields: str) -> Response:
    token = form_token(client.get(PAGE))
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def _token_status(client: TestClient, client_id: str, secret: str) -> int:
    answer = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(client_id, secret),
    )
    return answer.status_code


def _system_id(page: str, key: str) -> str:
    found = re.search(rf'<option value="(\d+)"[^>]*>[^<]*\({re.escape(key)}\)</option>', page)
    assert found, key
    return found.group(1)


def test_an_admin_creates_rotates_and_revokes_a_secret(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "so-yte/his" in page.text and "ubnd-viet-yen/mot-cua" not in page.text
    system = _system_id(page.text, "so-yte/his")

    issued = _post(client, PAGE, system=system, kind="client_secret", label="Máy chủ HIS 1")
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    secret = _SECRET.search(issued.text)
    client_id = _CLIENT.search(issued.text)
    assert secret and client_id
    secret_text, client_text = secret.group(1), client_id.group(1)
    download = re.search(r'href="data:application/json;charset=utf-8,([^"]+)"', issued.text)
    assert download and json.loads(unquote(download.group(1)))["client_secret"] == secret_text
    assert _token_status(client, client_text, secret_text) == 200

    listed = client.get(PAGE).text
    assert client_text in listed and "Máy chủ HIS 1" in listed
    assert secret_text not in listed  # shown once only
    assert "Chưa dùng" not in listed.split(client_text, 1)[1].split("</tr>", 1)[0]  # used now

    rotated = _post(client, f"{PAGE}/{client_text}/rotate")
    assert rotated.status_code == 200
    new_secret = _SECRET.search(rotated.text)
    assert new_secret and new_secret.group(1) != secret_text
    assert _token_status(client, client_text, secret_text) == 401
    assert _token_status(client, client_text, new_secret.group(1)) == 200

    unconfirmed = _post(client, f"{PAGE}/{client_text}/revoke")
    assert unconfirmed.status_code == 422 and "xác nhận" in unconfirmed.text
    revoked = _post(client, f"{PAGE}/{client_text}/revoke", confirm="yes")
    assert revoked.status_code == 303
    assert "Đã thu hồi" in client.get(revoked.headers["location"]).text
    assert _token_status(client, client_text, new_secret.group(1)) == 401


def test_bad_keys_and_fingerprints_are_marked_next_to_their_fields(
    client: TestClient, exchange_world: ExchangeWorld, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    system = _system_id(client.get(PAGE).text, "so-yte/his")
    bad_jwk = _post(client, PAGE, system=system, kind="private_key_jwt", public_jwk="{không")
    assert bad_jwk.status_code == 422
    assert 'id="cred-public_jwk-error"' in bad_jwk.text or "JSON Web Key" in bad_jwk.text
    bad_fingerprint = _post(client, PAGE, system=system, kind="mtls", certificate_sha256="ab:cd")
    assert bad_fingerprint.status_code == 422 and "64" in bad_fingerprint.text
    bad_date = _post(client, PAGE, system=system, kind="client_secret", expires_on="31/02/2027")
    assert bad_date.status_code == 422 and "dd/mm/yyyy" in bad_date.text
    past = _post(client, PAGE, system=system, kind="client_secret", expires_on="01/01/2020")
    assert past.status_code == 422
    with sessions() as session:
        assert session.scalars(select(SystemCredential)).all() == []


def test_a_locked_credential_is_shown_and_unlocked(
    client: TestClient, exchange_world: ExchangeWorld, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    system = _system_id(client.get(PAGE).text, "so-yte/his")
    issued = _post(client, PAGE, system=system, kind="client_secret")
    client_id = _CLIENT.search(issued.text)
    assert client_id
    with sessions.begin() as session:
        credential = session.scalars(
            select(SystemCredential).where(SystemCredential.client_id == client_id.group(1))
        ).one()
        credential.locked_until = utcnow() + timedelta(minutes=15)
        credential.failed_attempts = 10
    listed = client.get(PAGE).text
    assert "Bị khoá do xác thực sai nhiều lần" in listed
    unlocked = _post(client, f"{PAGE}/{client_id.group(1)}/unlock")
    assert unlocked.status_code == 303
    page = client.get(unlocked.headers["location"]).text
    assert "Đã mở khoá" in page and "Bị khoá do xác thực sai nhiều lần" not in page


def test_only_the_systems_admins_manage_its_credentials(
    client: TestClient, exchange_world: ExchangeWorld
) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    system = _system_id(client.get(PAGE).text, "so-yte/his")
    issued = _post(client, PAGE, system=system, kind="client_secret")
    client_id = _CLIENT.search(issued.text)
    assert client_id

    client.cookies.clear()
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200 and client_id.group(1) not in page.text
    assert "không quản trị" in page.text
    refused = _post(client, PAGE, system=system, kind="client_secret")
    assert refused.status_code == 422 and "hệ thống do bạn quản trị" in refused.text
    revoke = _post(client, f"{PAGE}/{client_id.group(1)}/revoke", confirm="yes")
    assert revoke.status_code == 403


def test_the_page_sends_as_many_queries_for_many_credentials_as_for_few(
    client: TestClient, exchange_world: ExchangeWorld, query_budget: QueryBudget
) -> None:
    admin = exchange_world.provider_admin

    def grow() -> None:
        for _ in range(6):
            made = client.post(
                f"{API}/systems/so-yte/his/credentials",
                json={"kind": "client_secret"},
                headers=admin.headers,
            )
            assert made.status_code == 201, made.text

    assert log_in(client, admin.username).status_code == 303

    def fetch() -> None:
        assert client.get(PAGE).status_code == 200

    query_budget.flat(fetch, grow, budget=14)
