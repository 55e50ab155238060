"""A write is answered only after its commit, and a commit that fails is never answered as one.

The request's session commits before the answer leaves (a function-scoped dependency). Served
for real (uvicorn, real sockets), a token issued by ``POST /api/v1/auth/tokens`` is accepted on
the very next call, under concurrency; and when the database refuses the commit, the client
gets a problem+json (409 for a conflict, 503 with Retry-After for a database out of reach)
and nothing is stored.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import OperationalError

from tests.conftest import TEST_PASSWORD
from tests.support.services import free_port
from tinhso.registry.models import Organisation, OrganisationKind, UserCredential

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

# Enough round trips that the old order (answer first, commit after) is caught every run.
# Signing in costs an argon2 hash each time, so most rounds create organisations instead.
CLIENTS = 6
TOKEN_ROUNDS = 3
ROUNDS = 20


class Served:
    """The control-plane app (already started by the ``client`` fixture) on a real socket."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def served(client: TestClient, app: FastAPI) -> Iterator[Served]:
    with Served(app) as server:
        yield server


def test_a_write_is_readable_on_the_very_next_call_under_concurrency(
    served: Served, make_official: MakeOfficial, admin: Official
) -> None:
    """A fresh API token works on the next call, and a created organisation is found by it."""
    officials = [make_official(username=f"dong-thoi-{n}") for n in range(CLIENTS)]

    def write_then_read(official: Official) -> list[str]:
        refused = []
        with httpx.Client(base_url=served.url, timeout=30) as http:
            for round_ in range(TOKEN_ROUNDS):
                issued = http.post(
                    "/api/v1/auth/tokens",
                    json={"username": official.username, "password": TEST_PASSWORD},
                )
                assert issued.status_code == 200, issued.text
                token = issued.json()["access_token"]
                me = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
                if me.status_code != 200:
                    refused.append(f"token {official.username}#{round_}: {me.status_code}")
            for round_ in range(ROUNDS):
                code = f"{official.username}-{round_}"
                created = http.post(
                    "/api/v1/organisations",
                    json={"code": code, "name_vi": f"Tổ chức {code}", "kind": "other"},
                    headers=admin.headers,
                )
                assert created.status_code == 201, created.text
                read = http.get(f"/api/v1/organisations/{code}", headers=admin.headers)
                if read.status_code != 200:
                    refused.append(f"organisation {code}: {read.status_code}")
        return refused

    done = threading.Event()

    def load() -> None:  # other officials reading meanwhile: the server is busy
        with httpx.Client(base_url=served.url, timeout=30) as http:
            while not done.is_set():
                http.get("/api/v1/organisations", headers=admin.headers)

    with ThreadPoolExecutor(2 * CLIENTS) as pool:
        loaders = [pool.submit(load) for _ in range(CLIENTS)]
        try:
            batches = list(pool.map(write_then_read, officials))
        finally:
            done.set()
        for loader in loaders:
            loader.result()
    refused = [line for batch in batches for line in batch]
    total = CLIENTS * (TOKEN_ROUNDS + ROUNDS)
    assert not refused, f"{len(refused)} of {total} writes were not readable at once: {refused}"


def _count_tokens(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(UserCredential)) or 0


def _conflict_at_commit(session: Session) -> None:
    """The database refuses the transaction at commit: a row that breaks a unique constraint."""
    row = {"code": "trung-ma", "name_vi": "Trùng mã", "kind": OrganisationKind.OTHER}
    session.execute(insert(Organisation), [row, row])


def _outage_at_commit(session: Session) -> None:
    """The database goes away at commit: on PostgreSQL the server ends the connection (a real
    lost connection); SQLite, embedded, has no server to lose, so its own "database is locked"
    error (what a writer held past the busy timeout gets) is raised there."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return
    raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture
def failing_commits(app: FastAPI) -> Iterator[Callable[[Callable[[Session], None]], None]]:
    """Make the app's next commits run ``fault`` (a SQLAlchemy ``before_commit`` event)."""
    installed: list[Any] = []

    def install(fault: Callable[[Session], None]) -> None:
        sessions = app.state.sessionmaker
        event.listen(sessions, "before_commit", fault)
        installed.append((sessions, fault))

    yield install
    for sessions, fault in installed:
        event.remove(sessions, "before_commit", fault)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [(_conflict_at_commit, 409, "conflict"), (_outage_at_commit, 503, "database_unavailable")],
    ids=["conflict", "outage"],
)
def test_a_commit_that_fails_is_answered_as_a_problem_and_stores_nothing(
    client: TestClient,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    failing_commits: Callable[[Callable[[Session], None]], None],
    fault: Callable[[Session], None],
    status: int,
    code: str,
) -> None:
    official = make_official(username="luu-that-bai")
    before = _count_tokens(sessions)
    failing_commits(fault)
    response = client.post(
        "/api/v1/auth/tokens",
        json={"username": official.username, "password": TEST_PASSWORD},
        headers={"Accept-Language": "vi"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["message"]["vi"]
    assert body["message"]["en"]
    assert "access_token" not in body
    if status == 503:
        assert int(response.headers["retry-after"]) > 0
    assert _count_tokens(sessions) == before  # nothing stored
    with sessions() as session:
        assert session.scalar(select(Organisation).where(Organisation.code == "trung-ma")) is None


def test_a_successful_write_is_committed_before_it_is_answered(
    client: TestClient, app: FastAPI, make_official: MakeOfficial
) -> None:
    """The commit happens inside the request, before the response starts (the order seen by
    an ASGI ``send`` wrapper), not in a teardown after it."""
    official = make_official(username="thu-tu")
    order: list[str] = []
    sessions = app.state.sessionmaker

    def committed(_session: Session) -> None:
        order.append("commit")

    class Recording:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def recording_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    order.append("response")
                await send(message)

            await self.inner(scope, receive, recording_send)

    event.listen(sessions, "after_commit", committed)
    app.middleware_stack = Recording(app.build_middleware_stack())
    try:
        response = client.post(
            "/api/v1/auth/tokens",
            json={"username": official.username, "password": TEST_PASSWORD},
        )
    finally:
        app.middleware_stack = None  # rebuilt without the recorder on the next call
        event.remove(sessions, "after_commit", committed)
    assert response.status_code == 200, response.text
    assert order == ["commit", "response"]
