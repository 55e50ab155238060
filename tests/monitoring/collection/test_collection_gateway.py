"""Automatic collection end to end: a real provider, the real gateway process, the real
control plane (token endpoint) over HTTP, and `tinhso worker --once`.

The hub's consumer system ``so-tttt/ioc`` is granted GET on ``/thong-ke/`` of
``so-yte/his/thong-ke/v1``; collected values must cite the exchange audit record the
gateway wrote for the very request (read back with ``tinhso.exchange.audit.proof.export``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.exchange.conftest import API, request_payload, service_payload
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    GatewayProcess,
    free_port,
    settings,
)
from tests.monitoring.support import element
from tinhso.core.db import utcnow
from tinhso.exchange.audit import proof as audit_proof
from tinhso.monitoring.collection.models import CollectionRun, PeriodRule, RunStatus
from tinhso.monitoring.collection.rules import period_for
from tinhso.monitoring.collection.worker import collect_once
from tinhso.monitoring.models import DataValue, ValueSource
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tinhso.core.config import Settings

SERVICE = "so-yte/his/thong-ke/v1"
COLLECTION = "/api/v1/monitoring/collection"


# -- a provider that answers JSON set per path ----------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StatsServer

    def log_message(self, *_args: Any) -> None:
        return

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        self.server.seen.append((path, query, self.headers.get("x-tinhso-consumer")))
        status, body = self.server.answers.get(path, (404, {"error": "not found"}))
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _StatsServer(ThreadingHTTPServer):
    daemon_threads = True
    answers: dict[str, tuple[int, Any]]
    seen: list[tuple[str, str, str | None]]


@pytest.fixture
def stats_provider() -> Iterator[_StatsServer]:
    server = _StatsServer(("127.0.0.1", 0), _Handler)
    server.answers, server.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _ControlPlane:
    """The control-plane app served for real (the worker fetches its token over HTTP)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> _ControlPlane:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# -- the scenario ---------------------------------------------------------------------------------
@dataclass
class Hub:
    client: TestClient
    admin: Official
    provider_admin: Official
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    provider: _StatsServer
    gateway: GatewayProcess
    control: _ControlPlane
    client_id: str
    client_secret: str
    grant_id: int

    def worker_settings(self, **overrides: Any) -> Settings:
        return self.settings.model_copy(
            update={
                "collection_gateway_url": self.gateway.url,
                "collection_token_url": f"{self.control.url}/oauth/token",
                "collection_client_id": self.client_id,
                "collection_client_secret": SecretStr(self.client_secret),
                **overrides,
            }
        )

    def source(self, code: str, path: str, value_path: str, **extra: Any) -> dict[str, Any]:
        payload = {
            "code": code,
            "name_vi": f"Nguồn {code}",
            "element_code": "ho_so_truc_tuyen",
            "service": {
                "organisation_code": "so-yte",
                "system_code": "his",
                "code": "thong-ke",
                "version": "v1",
            },
            "request_path": path,
            "value_path": value_path,
            "unit_set": "current",
            "unit_code": "24",
            # A month that has ended: the current one takes no actual values (issue 12).
            "period_rule": "previous_month",
            "interval_minutes": 60,
            **extra,
        }
        response = self.client.post(
            f"{COLLECTION}/sources", json=payload, headers=self.admin.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def runs(self, code: str) -> list[dict[str, Any]]:
        response = self.client.get(f"{COLLECTION}/sources/{code}/runs", headers=self.admin.headers)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def values(self) -> list[DataValue]:
        with self.sessions() as session:
            return list(session.scalars(select(DataValue).order_by(DataValue.id)))

    def audit_records(self) -> list[dict[str, Any]]:
        now = utcnow()
        document = audit_proof.export(
            self.engine, now - timedelta(hours=1), now + timedelta(hours=1)
        )
        return list(document["records"])


@pytest.fixture
def hub(
    client: TestClient,
    app: FastAPI,
    admin: Official,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,  # noqa: F811
    database_url: str,
    tmp_path: Path,
    stats_provider: _StatsServer,
) -> Iterator[Hub]:
    for organisation, code, is_provider in (("so-yte", "his", True), ("so-tttt", "ioc", False)):
        response = client.post(
            "/api/v1/systems",
            json={
                "code": code,
                "organisation_code": organisation,
                "name_vi": f"Hệ thống {code}",
                "is_consumer": True,
                "is_provider": is_provider,
            },
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
    provider_admin = make_official(Role.ORGANISATION_ADMIN, "so-yte", username="yte-admin")
    hub_admin = make_official(Role.ORGANISATION_ADMIN, "so-tttt", username="tttt-admin")
    base_url = f"http://127.0.0.1:{stats_provider.server_address[1]}/api"
    response = client.post(
        f"{API}/services",
        json=service_payload(
            code="thong-ke",
            name_vi="Thống kê hồ sơ",
            base_url=base_url,
            classification="internal",
            request_schema=None,
            openapi=None,
        ),
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/services/{SERVICE}/status", json={"status": "published"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    payload = request_payload(
        consumer={"organisation_code": "so-tttt", "system_code": "ioc"},
        requested_methods=["GET"],
        requested_paths=["/thong-ke/"],
        purpose="Thu thập số liệu giám sát chuyển đổi số cho Trung tâm IOC",
    )
    payload["service"]["code"] = "thong-ke"
    response = client.post(f"{API}/requests", json=payload, headers=hub_admin.headers)
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/requests/{response.json()['id']}/approve",
        json={"allowed_methods": ["GET"], "allowed_paths": ["/thong-ke/"]},
        headers=provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    grant_id = int(response.json()["id"])
    response = client.post(
        f"{API}/systems/so-tttt/ioc/credentials",
        json={"kind": "client_secret", "label": "tinhso worker"},
        headers=hub_admin.headers,
    )
    assert response.status_code == 201, response.text
    client_id, client_secret = response.json()["client_id"], response.json()["client_secret"]

    with sessions.begin() as session:
        element(
            session,
            "ho_so_truc_tuyen",
            value_type="integer",
            period_type="month",
            unit_of_measure="hồ sơ",
        )
    control = _ControlPlane(app).start()
    # The platform's first signing key exists before the gateway loads it.
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
    )
    assert response.status_code == 200, response.text
    gateway = GatewayProcess(database_url, tmp_path / "gateway").start()
    scenario = Hub(
        client,
        admin,
        provider_admin,
        engine,
        sessions,
        settings,
        stats_provider,
        gateway,
        control,
        client_id,
        client_secret,
        grant_id,
    )
    try:
        yield scenario
    finally:
        gateway.stop()
        control.stop()


# -- tests ----------------------------------------------------------------------------------------
def test_worker_once_collects_a_value_that_cites_its_audit_record(hub: Hub) -> None:
    hub.provider.answers["/api/thong-ke/ho-so"] = (200, {"data": {"online_dossiers": 1234}})
    hub.source("ho-so-truc-tuyen", "/thong-ke/ho-so", "$.data.online_dossiers",
               query={"ky": "{period}", "nam": "{year}"})  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith("TINHSO_")}
    env.update(
        {
            "TINHSO_ENVIRONMENT": "test",
            "TINHSO_DATABASE_URL": hub.settings.database_url,
            "TINHSO_DATA_DIR": str(hub.settings.data_dir),
            "TINHSO_SECRET_KEY": TEST_SECRET,
            "TINHSO_COLLECTION_GATEWAY_URL": hub.gateway.url,
            "TINHSO_COLLECTION_TOKEN_URL": f"{hub.control.url}/oauth/token",
            "TINHSO_COLLECTION_CLIENT_ID": hub.client_id,
            "TINHSO_COLLECTION_CLIENT_SECRET": hub.client_secret,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "tinhso.cli", "worker", "--once", "--job", "monitoring.collection"],
        env=env,
        cwd=hub.settings.data_dir,
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    assert "succeeded=1" in output
    assert hub.client_secret not in output  # the secret is never printed

    period = period_for(PeriodRule.PREVIOUS_MONTH, utcnow()).code
    path, query, consumer = hub.provider.seen[-1]
    assert path == "/api/thong-ke/ho-so"
    assert f"ky={period}" in query and f"nam={period[:4]}" in query
    assert consumer == "so-tttt/ioc"

    [value] = hub.values()
    assert value.value == 1234
    assert value.source is ValueSource.AUTOMATIC
    assert value.period == period
    assert value.audit_record_id

    records = [r for r in hub.audit_records() if r["request_id"] == value.audit_record_id]
    assert len(records) == 1, hub.audit_records()
    record = records[0]
    assert record["service"] == SERVICE
    assert record["consumer"] == "so-tttt/ioc"
    assert record["grant_id"] == hub.grant_id
    assert record["status"] == 200

    [run] = hub.runs("ho-so-truc-tuyen")
    assert run["status"] == "succeeded"
    assert run["values_written"] == 1
    assert run["period"] == period
    assert run["request_id"] == value.audit_record_id
    # The run kept the hash of the answer it read; the audit record has the same one.
    assert run["response_sha256"] == record["response_sha256"]

    # The values API shows the provenance, unit and period.
    response = hub.client.get(
        "/api/v1/monitoring/values",
        params={"element": "ho_so_truc_tuyen"},
        headers=hub.admin.headers,
    )
    assert response.status_code == 200, response.text
    [shown] = response.json()["items"]
    assert shown["source"] == "automatic"
    assert shown["unit"] == {"unit_set": "current", "code": "24"}
    assert shown["audit_record_id"] == value.audit_record_id

    # The next cycle finds nothing due (collected, next run in an hour).
    result = collect_once(hub.engine, hub.worker_settings())
    assert result is not None
    assert (result.succeeded, result.failed) == (0, 0)
    assert audit_proof.verify(hub.engine).ok


def test_rows_with_unit_codes_are_written_all_or_nothing(hub: Hub) -> None:
    rows = [{"ma": "24", "so": 10}, {"ma": "01", "so": 20}, {"ma": "04", "so": 30}]
    hub.provider.answers["/api/thong-ke/huyen"] = (200, {"items": rows})
    hub.source(
        "ho-so-huyen",
        "/thong-ke/huyen",
        "$.so",
        rows_path="$.items",
        unit_code=None,
        unit_code_path="$.ma",
    )
    result = collect_once(hub.engine, hub.worker_settings())
    assert result.succeeded == 1, hub.runs("ho-so-huyen")
    stored = hub.values()
    assert sorted(v.value for v in stored) == [10, 20, 30]
    assert len({v.audit_record_id for v in stored}) == 1

    # One row with an unknown unit: the whole batch is refused, nothing changes.
    rows[0]["so"], rows[1]["ma"] = 11, "999"
    hub.client.post(f"{COLLECTION}/sources/ho-so-huyen/run", headers=hub.admin.headers)
    result = collect_once(hub.engine, hub.worker_settings())
    assert result.failed == 1
    assert sorted(v.value for v in hub.values()) == [10, 20, 30]
    latest = hub.runs("ho-so-huyen")[0]
    assert latest["status"] == "failed"
    assert latest["error_code"] == "values_refused"
    assert "999" in latest["error"]["vi"] and "999" in latest["error"]["en"]
    assert latest["request_id"]  # the refused answer is still traceable to its audit record


@pytest.mark.parametrize(
    ("answer", "value_path", "code", "vi", "en"),
    [
        (
            {"data": {"online_dossiers": "nhiều"}},
            "$.data.online_dossiers",
            "not_a_number",
            "không phải là số",
            "is not a number",
        ),
        (
            {"data": {}},
            "$.data.online_dossiers",
            "path_missing",
            "Không tìm thấy $.data.online_dossiers",
            "$.data.online_dossiers was not found",
        ),
        (
            {"data": {"online_dossiers": 12.5}},
            "$.data.online_dossiers",
            "values_refused",
            "số nguyên",
            "an integer",
        ),
    ],
)
def test_unusable_answer_fails_the_run_and_writes_nothing(
    hub: Hub, answer: dict[str, Any], value_path: str, code: str, vi: str, en: str
) -> None:
    hub.provider.answers["/api/thong-ke/ho-so"] = (200, answer)
    hub.source("ho-so", "/thong-ke/ho-so", value_path)
    result = collect_once(hub.engine, hub.worker_settings())
    assert (result.succeeded, result.failed) == (0, 1)
    assert hub.values() == []
    [run] = hub.runs("ho-so")
    assert run["status"] == "failed"
    assert run["error_code"] == code
    assert vi in run["error"]["vi"]
    assert en in run["error"]["en"]
    assert run["request_id"]  # the exchange itself was audited

    # Retried with backoff: due again after one minute, not at once.
    response = hub.client.get(f"{COLLECTION}/sources/ho-so", headers=hub.admin.headers)
    source = response.json()
    assert source["consecutive_failures"] == 1
    result = collect_once(hub.engine, hub.worker_settings())
    assert (result.succeeded, result.failed) == (0, 0)

    # Fixed at the provider and run again: the second attempt succeeds and resets the count.
    hub.provider.answers["/api/thong-ke/ho-so"] = (200, {"data": {"online_dossiers": 7}})
    hub.client.post(f"{COLLECTION}/sources/ho-so/run", headers=hub.admin.headers)
    result = collect_once(hub.engine, hub.worker_settings())
    assert result.succeeded == 1
    latest = hub.runs("ho-so")[0]
    assert (latest["status"], latest["attempt"]) == ("succeeded", 2)
    assert [v.value for v in hub.values()] == [7]


def test_revoked_grant_fails_the_run_and_writes_nothing(hub: Hub) -> None:
    hub.provider.answers["/api/thong-ke/ho-so"] = (200, {"data": {"online_dossiers": 5}})
    hub.source("ho-so", "/thong-ke/ho-so", "$.data.online_dossiers")
    response = hub.client.post(
        f"{API}/grants/{hub.grant_id}/revoke",
        json={"reason": "Chấm dứt chia sẻ dữ liệu thống kê"},
        headers=hub.provider_admin.headers,
    )
    assert response.status_code == 200, response.text
    # The gateway applies a revocation within its poll interval: wait until it refuses.
    token = hub.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(hub.client_id, hub.client_secret),
    ).json()["access_token"]
    deadline = time.monotonic() + 15
    with httpx.Client(base_url=hub.gateway.url, timeout=10) as http:
        while True:
            probe = http.get(
                f"/{SERVICE}/thong-ke/ping", headers={"Authorization": f"Bearer {token}"}
            )
            if probe.status_code == 403 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert probe.status_code == 403, probe.text
    seen = len(hub.provider.seen)

    result = collect_once(hub.engine, hub.worker_settings())
    assert (result.succeeded, result.failed) == (0, 1)
    [run] = hub.runs("ho-so")
    assert run["status"] == "failed"
    assert run["http_status"] == 403
    assert run["error_code"].startswith("gateway_")
    assert "Cổng trao đổi từ chối" in run["error"]["vi"]
    assert "gateway refused" in run["error"]["en"]
    assert hub.values() == []
    assert len(hub.provider.seen) == seen  # the provider was never called


def test_wrong_hub_secret_fails_the_run_without_calling_the_gateway(hub: Hub) -> None:
    hub.source("ho-so", "/thong-ke/ho-so", "$.data.online_dossiers")
    result = collect_once(
        hub.engine, hub.worker_settings(collection_client_secret=SecretStr("sai-bi-mat"))
    )
    assert result.failed == 1
    [run] = hub.runs("ho-so")
    assert run["error_code"] == "token_refused"
    assert run["request_id"] is None
    assert "sai-bi-mat" not in json.dumps(run)
    assert hub.values() == []
    with hub.sessions() as session:
        assert session.scalar(select(CollectionRun.status)) is RunStatus.FAILED
