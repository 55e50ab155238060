"""The data exchange portal page: services and the requests awaiting the official's decision."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from tests.exchange.conftest import API, request_payload
from tinhso.core.db import utcnow
from tinhso.exchange.models import ConnectionRequest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld


def test_exchange_page_lists_services_and_waiting_requests(
    client: TestClient, exchange_world: ExchangeWorld, session: Session
) -> None:
    world = exchange_world
    created = client.post(
        f"{API}/requests", json=request_payload(), headers=world.consumer_officer.headers
    )
    assert created.status_code == 201
    session.execute(update(ConnectionRequest).values(due_at=utcnow() - timedelta(hours=2)))
    session.commit()

    page = client.get("/exchange", headers=world.provider_admin.headers)
    assert page.status_code == 200, page.text
    assert "Yêu cầu kết nối chờ bạn quyết định" in page.text  # Vietnamese first
    assert "so-yte/his/ho-so-suc-khoe/v1" in page.text
    assert "ubnd-viet-yen/mot-cua" in page.text
    assert "Quá hạn" in page.text
    assert "Đã công bố" in page.text

    # The consumer's officer sees the service but decides nothing.
    consumer_page = client.get("/exchange", headers=world.consumer_officer.headers)
    assert "so-yte/his/ho-so-suc-khoe/v1" in consumer_page.text
    assert "Không có yêu cầu kết nối nào đang chờ bạn quyết định." in consumer_page.text

    client.cookies.set("tinhso_lang", "en")
    english = client.get("/exchange", headers=world.provider_admin.headers)
    assert "Requests awaiting your decision" in english.text
    assert "Health record lookup" in english.text


def test_exchange_page_needs_login(client: TestClient) -> None:
    response = client.get("/exchange", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
