"""The catalogue served for real (uvicorn on loopback) for unmodified CKAN clients, with the
province's organisations, the reference lists and officials of two organisations."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import uvicorn
from ckanapi import RemoteCKAN

from tests.support.services import free_port
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

PUBLISHER = "so-tttt"
OTHER = "so-yte"


@pytest.fixture
def served(app: FastAPI, client: TestClient) -> Iterator[str]:
    """The app (its state set up by ``client``) served by uvicorn on loopback: its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@dataclass(frozen=True)
class Catalogue:
    url: str
    anonymous: RemoteCKAN
    officer: RemoteCKAN  # an officer of the publisher (so-tttt)
    viewer: RemoteCKAN  # a viewer of the publisher: a member, not a writer
    other: RemoteCKAN  # an officer of another organisation (so-yte)
    admin: RemoteCKAN  # a platform administrator


@pytest.fixture
def catalogue(
    served: str,
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> Iterator[Catalogue]:
    with sessions.begin() as session:
        load_reference(session)
    officer = make_official(Role.OFFICER, PUBLISHER)
    viewer = make_official(Role.VIEWER, PUBLISHER)
    other = make_official(Role.OFFICER, OTHER)
    admin = make_official(platform_admin=True)
    clients = [
        RemoteCKAN(served, apikey=token)
        for token in (None, officer.token, viewer.token, other.token, admin.token)
    ]
    yield Catalogue(served, *clients)
    for remote in clients:
        remote.close()
