"""The data plane's snapshot and the change counter (with NOTIFY on PostgreSQL)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import update

from tests.exchange.conftest import API, SERVICE_PATH, service_payload
from tinhso.exchange import repository
from tinhso.exchange.gateway import saved_snapshot
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import ServiceStatus
from tinhso.exchange.policy import path_matches
from tinhso.exchange.snapshot import exchange_snapshot
from tinhso.registry.models import InformationSystem, SystemStatus

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld
    from tinhso.core.config import Settings


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/citizens/{id}", "/citizens/123", True),
        ("/citizens/{id}", "/citizens/123/", True),
        ("/citizens/{id}", "/citizens/", False),
        ("/citizens/{id}", "/citizens/1/2", False),
        ("/citizens/{id}", "/citizens/..", False),
        ("/citizens/", "/citizens/1/2", True),
        ("/citizens/", "/citizens", True),
        ("/citizens/", "/citizensX", False),
        ("/citizens/*", "/citizens/a", True),
        ("/", "/anything/at/all", True),
        ("/records/{id}/files/{name}", "/records/7/files/a.pdf", True),
        ("/records/{id}/files/{name}", "/records/7/other/a.pdf", False),
    ],
)
def test_path_matching(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


def test_snapshot_contents(
    client: TestClient,
    exchange_world: ExchangeWorld,
    approved_grant: dict[str, Any],
    session: Session,
) -> None:
    headers = exchange_world.provider_officer.headers
    client.post(f"{API}/services", json=service_payload(version="v2"), headers=headers)
    snapshot = exchange_snapshot(session, issuer="http://127.0.0.1:8000")
    assert snapshot.version == repository.state_version(session) > 0
    assert set(snapshot.services) == {("so-yte", "his", "ho-so-suc-khoe", "v1")}  # v2 is a draft
    service = snapshot.services[("so-yte", "his", "ho-so-suc-khoe", "v1")]
    assert service.request_schema is not None
    assert service.request_schema["required"] == ["ma_dinh_danh"]
    (grant,) = snapshot.grants_for("ubnd-viet-yen/mot-cua", service.key)
    assert grant.id == approved_grant["id"]
    assert (grant.rate_per_second, grant.burst, grant.quota_per_day) == (50, 50, None)
    assert grant.valid_at(snapshot.loaded_at)

    # Deprecated services stay callable; retired ones are flagged.
    client.post(f"{SERVICE_PATH}/status", json={"status": "deprecated"}, headers=headers)
    session.expire_all()
    deprecated = exchange_snapshot(session).services[("so-yte", "his", "ho-so-suc-khoe", "v1")]
    assert deprecated.status is ServiceStatus.DEPRECATED
    assert deprecated.callable
    client.post(f"{SERVICE_PATH}/status", json={"status": "retired"}, headers=headers)
    session.expire_all()
    retired = exchange_snapshot(session).services[("so-yte", "his", "ho-so-suc-khoe", "v1")]
    assert not retired.callable

    # A suspended consumer system loses its grants in the snapshot.
    session.execute(
        update(InformationSystem)
        .where(InformationSystem.code == "mot-cua")
        .values(status=SystemStatus.SUSPENDED)
    )
    session.commit()
    assert exchange_snapshot(session).grants == {}


@pytest.mark.postgresql_only
def test_changes_notify_gateways_on_postgresql(
    client: TestClient,
    exchange_world: ExchangeWorld,
    approved_grant: dict[str, Any],
    database_url: str,
    db_dialect: str,
    session: Session,
) -> None:
    if db_dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute("LISTEN tinhso_exchange")
        response = client.post(
            f"{API}/grants/{approved_grant['id']}/revoke",
            json={"reason": "Kiểm tra thông báo"},
            headers=exchange_world.provider_admin.headers,
        )
        assert response.status_code == 200
        notices = list(listener.notifies(timeout=10, stop_after=1))
    assert [notice.channel for notice in notices] == ["tinhso_exchange"]
    assert int(notices[0].payload) == repository.state_version(session)


def test_the_saved_copy_is_the_same_snapshot_and_only_with_its_signature(
    client: TestClient,
    exchange_world: ExchangeWorld,
    approved_grant: dict[str, Any],
    consumer_secret: tuple[str, str],
    session: Session,
    settings: Settings,
    tmp_path: Path,
) -> None:
    signing_key_service.ensure_active(session, settings)
    session.commit()
    snapshot = exchange_snapshot(session, issuer="http://127.0.0.1:8000")
    path = tmp_path / saved_snapshot.FILE_NAME
    saved_snapshot.save(path, snapshot, "the platform secret")
    copy = saved_snapshot.load(path, "the platform secret")
    assert copy == snapshot  # services, grants, keys, client ids, certificates, version, times
    service = copy.services[("so-yte", "his", "ho-so-suc-khoe", "v1")]
    (grant,) = copy.grants_for("ubnd-viet-yen/mot-cua", service.key)
    assert grant.id == approved_grant["id"] and grant.valid_at(copy.loaded_at)
    assert copy.public_keys == snapshot.public_keys and copy.public_keys
    assert copy.client_ids == {consumer_secret[0]}

    with pytest.raises(saved_snapshot.SavedSnapshotError, match="not signed"):
        saved_snapshot.load(path, "another platform's secret")
    document = json.loads(path.read_text())
    body = json.loads(document["snapshot"])
    body["grants"][0]["paths"] = ["/"]  # widen a grant on disk
    document["snapshot"] = json.dumps(body, sort_keys=True)
    path.write_text(json.dumps(document))
    with pytest.raises(saved_snapshot.SavedSnapshotError, match="not signed"):
        saved_snapshot.load(path, "the platform secret")
    with pytest.raises(saved_snapshot.SavedSnapshotError, match="no saved registry snapshot"):
        saved_snapshot.load(tmp_path / "nothing.json", "the platform secret")
