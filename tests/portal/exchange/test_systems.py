"""Information systems in the portal, on both databases: an organisation's admin registers a
system (problems marked at their fields, nothing stored), suspends it (its client can no
longer obtain a token) and reactivates it; nobody else sees or touches it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.portal.exchange.test_credentials import _CLIENT, _SECRET, _system_id, _token_status
from tests.portal.test_pages import form_token, log_in
from tinhso.registry.models import SystemStatus
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx2 import Response
    from sqlalchemy.orm import Session, sessionmaker

    from tests.exchange.conftest import ExchangeWorld

PAGE = "/exchange/systems"


def _post(client: TestClient, path: str, **fields: str) -> Response:
    token = form_token(client.get(PAGE))
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def test_an_admin_registers_suspends_and_reactivates_a_system(
    client: TestClient, exchange_world: ExchangeWorld, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, exchange_world.provider_admin.username).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'data-system="so-yte/his"' in page.text
    assert 'data-system="ubnd-viet-yen/mot-cua"' not in page.text  # not theirs
    refused = _post(client, PAGE, organisation="so-yte", code="Hồ Sơ", name_vi="X", is_consumer="")
    assert refused.status_code == 422
    for where in ("sys-code", "sys-name_vi", "sys-roles"):
        assert f'id="{where}-error"' in refused.text, where
    elsewhere = _post(
        client,
        PAGE,
        organisation="ubnd-viet-yen",
        code="lay-mau",
        name_vi="Lấy mẫu",
        is_consumer="on",
    )
    assert elsewhere.status_code == 422 and 'id="sys-organisation-error"' in elsewhere.text
    made = _post(
        client,
        PAGE,
        organisation="so-yte",
        code="xet-nghiem",
        name_vi="Hệ thống xét nghiệm",
        is_consumer="on",
        is_provider="on",
    )
    assert made.status_code == 303, made.text
    twice = _post(
        client,
        PAGE,
        organisation="so-yte",
        code="xet-nghiem",
        name_vi="Hệ thống xét nghiệm",
        is_consumer="on",
    )
    assert twice.status_code == 409 and 'id="sys-code-error"' in twice.text
    with sessions() as session:
        system = system_service.get(session, "so-yte", "xet-nghiem")
        assert system.is_provider and system.is_consumer and system.status is SystemStatus.ACTIVE

    credentials = client.get("/exchange/credentials").text
    token = form_token(client.get("/exchange/credentials"))
    issued = client.post(
        "/exchange/credentials",
        data={
            "csrf_token": token,
            "system": _system_id(credentials, "so-yte/xet-nghiem"),
            "kind": "client_secret",
        },
    )
    secret, client_id = _SECRET.search(issued.text), _CLIENT.search(issued.text)
    assert secret and client_id
    assert _token_status(client, client_id.group(1), secret.group(1)) == 200

    path = f"{PAGE}/so-yte/xet-nghiem/status"
    assert _post(client, path, status="suspended").status_code == 422  # not confirmed
    suspended = _post(client, path, status="suspended", confirm="1")
    assert suspended.status_code == 303
    listed = client.get(suspended.headers["location"]).text
    assert "Đã tạm dừng hệ thống" in listed
    row = re.search(r'<tr data-system="so-yte/xet-nghiem">.*?</tr>', listed, re.S)
    assert row is not None and "Tạm dừng" in row.group(0)
    assert _token_status(client, client_id.group(1), secret.group(1)) != 200
    assert _post(client, path, status="active", confirm="1").status_code == 303
    assert _token_status(client, client_id.group(1), secret.group(1)) == 200


def test_only_the_owners_admins_change_a_system(
    client: TestClient, exchange_world: ExchangeWorld, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, exchange_world.consumer_admin.username).status_code == 303
    answer = _post(client, f"{PAGE}/so-yte/his/status", status="retired", confirm="1")
    assert answer.status_code == 403
    with sessions() as session:
        assert system_service.get(session, "so-yte", "his").status is SystemStatus.ACTIVE
    client.cookies.clear()
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200 and "Đăng ký hệ thống" not in page.text  # no organisation
    assert (
        _post(client, f"{PAGE}/so-yte/his/status", status="retired", confirm="1").status_code == 403
    )
