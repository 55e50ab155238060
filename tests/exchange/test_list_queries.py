"""Query budgets of the exchange's list endpoints and portal page: the number of statements a
list sends stays flat as its rows grow (no query per row), for a platform administrator and
for officials who see only their organisations' records (``query_budget`` fixture).
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update

from tests.exchange.conftest import API, request_payload, service_payload
from tests.portal.budgets import pages_stay_flat
from tinhso.core.db import utcnow
from tinhso.exchange.audit import chain as audit
from tinhso.exchange.audit.chain import AuditEntry
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import ConnectionRequest
from tinhso.registry.schemas import SystemCreate
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.exchange.conftest import ExchangeWorld
    from tests.registry.queries import QueryBudget
    from tinhso.core.config import Settings

VIEWERS = ["admin", "provider_admin", "consumer_admin"]


class Catalogue:
    """Adds services, connection requests (half approved, so grants too) and credentials."""

    def __init__(self, client: TestClient, world: ExchangeWorld, session: Session) -> None:
        self.client, self.world, self.session = client, world, session
        self.made = 0

    def _ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    def grow(self, count: int) -> None:
        world = self.world
        for _ in range(count):
            self.made += 1
            code = f"dich-vu-{self.made}"
            self._ok(
                self.client.post(
                    f"{API}/services",
                    json=service_payload(code=code),
                    headers=world.admin.headers,
                ),
                201,
            )
            self._ok(
                self.client.post(
                    f"{API}/services/so-yte/his/{code}/v1/status",
                    json={"status": "published"},
                    headers=world.admin.headers,
                )
            )
            payload = request_payload()
            payload["service"]["code"] = code
            asked = self._ok(
                self.client.post(
                    f"{API}/requests", json=payload, headers=world.consumer_officer.headers
                ),
                201,
            )
            if self.made % 2:
                self._ok(
                    self.client.post(
                        f"{API}/requests/{asked['id']}/approve",
                        json={"allowed_methods": ["GET"], "allowed_paths": ["/citizens/"]},
                        headers=world.provider_admin.headers,
                    ),
                    201,
                )
            self._ok(
                self.client.post(
                    f"{API}/systems/ubnd-viet-yen/mot-cua/credentials",
                    json={"kind": "client_secret", "label": f"máy chủ {self.made}"},
                    headers=world.consumer_admin.headers,
                ),
                201,
            )
        # Every pending request is overdue, so the overdue list grows too.
        self.session.execute(update(ConnectionRequest).values(due_at=utcnow() - timedelta(hours=1)))
        self.session.commit()


@pytest.fixture
def catalogue(client: TestClient, exchange_world: ExchangeWorld, session: Session) -> Catalogue:
    catalogue = Catalogue(client, exchange_world, session)
    catalogue.grow(2)
    return catalogue


OVERDUE = f"{API}/requests/overdue?limit=100"
CREDENTIALS = f"{API}/systems/ubnd-viet-yen/mot-cua/credentials?limit=100"
LISTS: dict[str, tuple[str, int]] = {
    # path: (where the answer lists its rows, statements at most)
    f"{API}/services?limit=100": ("items", 9),
    f"{API}/requests?limit=100": ("items", 11),
    f"{API}/requests?status=pending&limit=100": ("items", 10),
    OVERDUE: ("items", 10),
    f"{API}/grants?limit=100": ("items", 10),
    f"{API}/grants?active=true&limit=100": ("items", 10),
    CREDENTIALS: ("items", 8),
    # the portal page: services, requests awaiting a decision, and the own systems' requests
    "/exchange": ("<tr", 13),
}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_exchange_lists_send_as_many_queries_for_many_rows_as_for_few(
    client: TestClient,
    exchange_world: ExchangeWorld,
    catalogue: Catalogue,
    query_budget: QueryBudget,
    viewer: str,
) -> None:
    official: Official = getattr(exchange_world, viewer)
    lists = dict(LISTS)
    if viewer == "consumer_admin":  # only the provider's side sees waiting decisions
        del lists["/exchange"]
        del lists[OVERDUE]
    if viewer != "consumer_admin":  # only the system's own admins see its credentials
        del lists[CREDENTIALS]
    sizes: dict[str, list[int]] = {path: [] for path in lists}

    def fetcher(path: str) -> Callable[[], None]:
        key = lists[path][0]

        def fetch() -> None:
            response = client.get(path, headers=official.headers)
            assert response.status_code == 200, response.text
            shown = response.text.count("<tr") if key == "<tr" else len(response.json()[key])
            sizes[path].append(shown)

        return fetch

    query_budget.flat_each(
        {path: fetcher(path) for path in lists},
        lambda: catalogue.grow(6),
        {path: budget for path, (_key, budget) in lists.items()},
    )
    for path, (before, after) in sizes.items():
        assert after > before, f"{path}: the rows did not grow ({before} -> {after})"


EXCHANGE_PAGES: dict[str, tuple[str, int]] = {
    # path: (what marks a row, statements at most)
    "/exchange/audit": ('href="/exchange/audit/', 7),
    "/exchange/statistics": ("<tr", 4),
    "/exchange/systems": ("data-system=", 7),
}


@pytest.mark.parametrize("viewer", ["admin", "provider_admin"])
def test_exchange_pages_stay_flat_as_exchanges_and_systems_grow(
    client: TestClient,
    exchange_world: ExchangeWorld,
    engine: Engine,
    settings: Settings,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
    viewer: str,
) -> None:
    """The audit log, the statistics and the systems pages (issue 11 item 4): audit records of
    more services over more days and more systems cost no more statements."""
    official: Official = getattr(exchange_world, viewer)
    made = count(1)

    def grow() -> None:
        numbers = [next(made) for _ in range(4)]
        with sessions.begin() as session:
            signer = signing_key_service.active_signer(session, settings)
            for n in numbers:
                system_service.create(
                    session,
                    SystemCreate(
                        code=f"he-thong-{n}", organisation_code="so-yte", name_vi=f"Hệ thống {n}"
                    ),
                )
        now = utcnow()
        entries = [
            AuditEntry(
                now - timedelta(days=back),
                f"req-{n}-{back}",
                "GET",
                200 if back else 500,
                "ok" if back else "upstream_error",
                consumer="ubnd-viet-yen/mot-cua",
                service=f"so-yte/his/dich-vu-{n}/v1",
                path_template="/citizens/{id}",
                latency_us=1000 * n,
                bytes_out=100,
            )
            for n in numbers
            for back in (0, n)
        ]
        audit.append_entries(engine, entries, signer, timedelta(0))

    grow()
    pages_stay_flat(client, EXCHANGE_PAGES, grow, query_budget, official.headers)
