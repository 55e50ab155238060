"""Collection sources and runs: backoff, reading answers, the management API and who may use
it, claiming due sources and the worker loop. JSON paths and period rules are in
``test_collection_rules.py``.

The end-to-end runs through the real gateway are in ``test_collection_gateway.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.exchange.conftest import API, service_payload
from tests.exchange.gateway.gateway_harness import free_port
from tests.monitoring.support import element
from tinhso.core.db import utcnow
from tinhso.monitoring.collection.models import PeriodRule
from tinhso.monitoring.collection.rules import period_for
from tinhso.monitoring.collection.runs import (
    CollectionFailed,
    Fetched,
    RunPlan,
    backoff,
    collection_run_service,
)
from tinhso.monitoring.collection.worker import WorkerOptions, _refusal
from tinhso.monitoring.models import DataValue
from tinhso.registry.models import Role, UnitSet

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tinhso.core.config import Settings

COLLECTION = "/api/v1/monitoring/collection"


# -- backoff --------------------------------------------------------------------------------------
def test_backoff_doubles_and_stops_at_the_interval() -> None:
    base, interval = timedelta(minutes=1), timedelta(hours=1)
    assert [backoff(n, interval, base) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert backoff(10, interval, base) == interval
    assert backoff(10_000, interval, base) == interval


# -- answers --------------------------------------------------------------------------------------
def _plan(**overrides: Any) -> RunPlan:
    values: dict[str, Any] = {
        "run_id": 1,
        "source_id": 1,
        "source_code": "s",
        "element_code": "ho_so",
        "service_path": "so-yte/his/thong-ke/v1",
        "request_path": "/thong-ke",
        "query": {},
        "rows_path": None,
        "value_path": "$.data.total",
        "unit_set": UnitSet.LEGACY,
        "unit_code": "24",
        "unit_code_path": None,
        "period": "2025-08",
        "interval": timedelta(hours=1),
        "attempt": 1,
    }
    values.update(overrides)
    return RunPlan(**values)


def _fetched(body: bytes, request_id: str | None = "abc123", status: int = 200) -> Fetched:
    return Fetched(status, request_id, "0" * 64, body, "application/json")


def test_answer_without_request_id_is_not_collected() -> None:
    with pytest.raises(CollectionFailed) as caught:
        collection_run_service.items(_plan(), _fetched(b'{"data": {"total": 1}}', request_id=None))
    assert caught.value.code == "no_audit_record"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<html>", "invalid_json"),
        (b'{"data": {"total": true}}', "not_a_number"),
        (b'{"data": {"total": "12"}}', "not_a_number"),
        (b'{"data": {"total": null}}', "not_a_number"),
        (b'{"data": [1]}', "path_missing"),
    ],
)
def test_unusable_answers_say_why(body: bytes, code: str) -> None:
    with pytest.raises(CollectionFailed) as caught:
        collection_run_service.items(_plan(), _fetched(body))
    assert caught.value.code == code
    assert caught.value.vi and caught.value.en and caught.value.vi != caught.value.en


def test_rows_are_read_with_their_unit_codes() -> None:
    plan = _plan(rows_path="$.rows", value_path="$.n", unit_code=None, unit_code_path="$.ma")
    body = b'{"rows": [{"ma": "213", "n": 1}, {"ma": 222, "n": 2.5}]}'
    items = collection_run_service.items(plan, _fetched(body))
    assert [(i.unit.code, i.value, i.audit_record_id) for i in items] == [
        ("213", 1, "abc123"),
        ("222", 2.5, "abc123"),
    ]
    with pytest.raises(CollectionFailed) as caught:
        collection_run_service.items(plan, _fetched(b'{"rows": [{"ma": "213", "n": 1}, {"n": 2}]}'))
    assert caught.value.code == "path_missing"
    assert "dòng 2" in caught.value.vi and "row 2" in caught.value.en
    with pytest.raises(CollectionFailed) as caught:
        collection_run_service.items(plan, _fetched(b'{"rows": []}'))
    assert caught.value.code == "not_a_list"


def test_gateway_problem_keeps_its_bilingual_message() -> None:
    body = (
        b'{"code": "grant_revoked", "message": {"vi": "Quy\xe1\xbb\x81n \xc4\x91\xc3\xa3 b\xe1'
        b'\xbb\x8b thu h\xe1\xbb\x93i", "en": "The grant was revoked"}}'
    )
    failure = _refusal(Fetched(403, "r1", "0" * 64, body, "application/problem+json"))
    assert failure.code == "gateway_grant_revoked"
    assert "Quyền đã bị thu hồi" in failure.vi and "403" in failure.vi
    assert "The grant was revoked" in failure.en
    plain = _refusal(Fetched(502, None, "0" * 64, b"Bad gateway", "text/plain"))
    assert plain.code == "provider_error" and "502" in plain.en


def test_worker_settings_are_required_and_the_secret_is_hidden(settings: Settings) -> None:
    with pytest.raises(ValueError, match="TINHSO_COLLECTION_GATEWAY_URL"):
        WorkerOptions.from_settings(settings)
    configured = settings.model_copy(
        update={
            "collection_gateway_url": "http://127.0.0.1:9/",
            "collection_client_id": "ioc",
            "collection_client_secret": SecretStr("s3cret-value"),
        }
    )
    options = WorkerOptions.from_settings(configured)
    assert options.gateway_url == "http://127.0.0.1:9"
    assert options.token_url == settings.base_url + "/oauth/token"
    assert "s3cret-value" not in repr(options)
    assert "s3cret-value" not in repr(configured)


# -- the management API ---------------------------------------------------------------------------
@pytest.fixture
def catalogue(
    client: TestClient,
    admin: Official,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    response = client.post(
        "/api/v1/systems",
        json={
            "code": "his",
            "organisation_code": "so-yte",
            "name_vi": "Hệ thống his",
            "is_consumer": True,
            "is_provider": True,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/services",
        json=service_payload(code="thong-ke", classification="internal"),
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    with sessions.begin() as session:
        element(session, "ho_so_truc_tuyen", value_type="integer", period_type="month")


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "code": "ho-so-truc-tuyen",
        "name_vi": "Hồ sơ trực tuyến từ hệ thống một cửa",
        "element_code": "ho_so_truc_tuyen",
        "service": {
            "organisation_code": "so-yte",
            "system_code": "his",
            "code": "thong-ke",
            "version": "v1",
        },
        "request_path": "/thong-ke/ho-so",
        "query": {"ky": "{period}"},
        "value_path": "$.data.online_dossiers",
        "unit_set": "legacy",
        "unit_code": "24",
        "period_rule": "current_month",
        "interval_minutes": 1440,
    }
    payload.update(overrides)
    return payload


@pytest.mark.usefixtures("catalogue")
def test_managers_create_change_and_schedule_sources(client: TestClient, admin: Official) -> None:
    response = client.post(f"{COLLECTION}/sources", json=_payload(), headers=admin.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["service"]["code"] == "thong-ke"
    assert created["enabled"] is True
    assert created["consecutive_failures"] == 0

    response = client.post(f"{COLLECTION}/sources", json=_payload(), headers=admin.headers)
    assert response.status_code == 409

    response = client.patch(
        f"{COLLECTION}/sources/ho-so-truc-tuyen",
        json={"enabled": False, "value_path": "$.data.total"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["enabled"], response.json()["value_path"]) == (False, "$.data.total")

    response = client.get(f"{COLLECTION}/sources", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["total"] == 1
    response = client.get(f"{COLLECTION}/sources/ho-so-truc-tuyen/runs", headers=admin.headers)
    assert response.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    response = client.get(f"{COLLECTION}/sources/khong-co", headers=admin.headers)
    assert response.status_code == 404


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"value_path": "$..online"}, 422, "value_path"),
        ({"period_rule": "current_year"}, 422, "period_rule"),
        ({"query": {"ky": "{week}"}}, 422, "query.ky"),
        ({"unit_code": "99999"}, 422, "unit_code"),
        ({"unit_code_path": "$.ma"}, 422, None),  # both unit mappings
        ({"request_path": "/a/../b"}, 422, "request_path"),
        ({"request_path": "thong-ke"}, 422, None),
        ({"element_code": "khong_co"}, 404, "code"),
        (
            {
                "service": {
                    "organisation_code": "so-yte",
                    "system_code": "his",
                    "code": "khong-co",
                    "version": "v1",
                }
            },
            404,
            "service",
        ),
    ],
)
def test_bad_sources_are_refused_and_nothing_is_written(
    client: TestClient,
    admin: Official,
    overrides: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = client.post(
        f"{COLLECTION}/sources", json=_payload(**overrides), headers=admin.headers
    )
    assert response.status_code == status, response.text
    problem = response.json()
    if field is not None:
        assert field in [error["field"] for error in problem.get("errors", [])] or (
            problem.get("field") == field
        ), problem
    assert client.get(f"{COLLECTION}/sources", headers=admin.headers).json()["total"] == 0


@pytest.mark.usefixtures("catalogue")
def test_only_catalogue_managers_may_use_the_collection_api(
    client: TestClient, admin: Official, make_official: MakeOfficial
) -> None:
    response = client.post(f"{COLLECTION}/sources", json=_payload(), headers=admin.headers)
    assert response.status_code == 201
    province_admin = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh")
    response = client.post(
        f"{COLLECTION}/sources/ho-so-truc-tuyen/run", headers=province_admin.headers
    )
    assert response.status_code == 200, response.text
    for official in (
        make_official(Role.ORGANISATION_ADMIN, "so-tttt"),
        make_official(Role.OFFICER, "ubnd-tinh"),
        make_official(Role.VIEWER, "ubnd-tinh"),
    ):
        for method, path, body in (
            ("GET", "/sources", None),
            ("POST", "/sources", _payload(code="khac")),
            ("GET", "/sources/ho-so-truc-tuyen", None),
            ("PATCH", "/sources/ho-so-truc-tuyen", {"enabled": False}),
            ("POST", "/sources/ho-so-truc-tuyen/run", None),
            ("GET", "/sources/ho-so-truc-tuyen/runs", None),
        ):
            response = client.request(
                method, f"{COLLECTION}{path}", json=body, headers=official.headers
            )
            assert response.status_code == 403, (official, method, path, response.text)
    assert client.get(f"{COLLECTION}/sources").status_code == 401
    response = client.get(f"{COLLECTION}/sources/ho-so-truc-tuyen", headers=admin.headers)
    assert response.json()["enabled"] is True


@pytest.mark.usefixtures("catalogue")
def test_a_due_source_is_claimed_once_and_an_abandoned_run_is_closed(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    response = client.post(f"{COLLECTION}/sources", json=_payload(), headers=admin.headers)
    assert response.status_code == 201
    lease = timedelta(minutes=10)
    now = utcnow()
    with sessions.begin() as session:
        [source_id] = collection_run_service.due(session, now)
        plan = collection_run_service.claim(session, source_id, now, lease)
    assert plan is not None
    period = period_for(PeriodRule.CURRENT_MONTH, now).code
    assert (plan.period, plan.query) == (period, {"ky": period})
    with sessions.begin() as session:
        assert collection_run_service.claim(session, source_id, now, lease) is None  # taken
        assert collection_run_service.due(session, now) == []
    later = now + lease + timedelta(seconds=1)
    with sessions.begin() as session:
        assert collection_run_service.claim(session, source_id, later, lease) is not None
    runs = client.get(f"{COLLECTION}/sources/ho-so-truc-tuyen/runs", headers=admin.headers)
    newest, oldest = runs.json()["items"]
    assert newest["status"] == "running"
    assert (oldest["status"], oldest["error_code"]) == ("failed", "interrupted")
    assert oldest["error"]["vi"].startswith("Lượt thu thập bị gián đoạn")


def _cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINHSO_")}
    env.update(
        {
            "TINHSO_ENVIRONMENT": "test",
            "TINHSO_DATABASE_URL": settings.database_url,
            "TINHSO_DATA_DIR": str(settings.data_dir),
            "TINHSO_SECRET_KEY": TEST_SECRET,
            **extra,
        }
    )
    return env


@pytest.mark.usefixtures("catalogue")
def test_worker_loop_records_failures_and_stops_on_sigterm(
    client: TestClient, admin: Official, settings: Settings
) -> None:
    command = [sys.executable, "-m", "tinhso.cli", "worker"]
    done = subprocess.run(
        [*command, "--once", "--job", "monitoring.collection"],
        env=_cli_env(settings),
        cwd=settings.data_dir,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"TINHSO_COLLECTION_CLIENT_SECRET" in done.stderr

    response = client.post(f"{COLLECTION}/sources", json=_payload(), headers=admin.headers)
    assert response.status_code == 201
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    process = subprocess.Popen(
        [*command, "--poll-seconds", "1"],
        env=_cli_env(
            settings,
            TINHSO_COLLECTION_GATEWAY_URL=closed,
            TINHSO_COLLECTION_TOKEN_URL=f"{closed}/oauth/token",
            TINHSO_COLLECTION_CLIENT_ID="ioc",
            TINHSO_COLLECTION_CLIENT_SECRET="khong-duoc-in-ra",
        ),
        cwd=settings.data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not runs:
            time.sleep(0.2)
            response = client.get(
                f"{COLLECTION}/sources/ho-so-truc-tuyen/runs", headers=admin.headers
            )
            runs = [r for r in response.json()["items"] if r["status"] == "failed"]
        assert runs, "the worker loop recorded no run"
        assert runs[0]["error_code"] == "token_unreachable"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, output
    assert b"khong-duoc-in-ra" not in output


# -- issue 12: bounds and rules on the collection path ------------------------------------------
MONITORING = "/api/v1/monitoring"


@pytest.mark.usefixtures("catalogue")
def test_bounds_and_rules_apply_to_collected_values(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    answer = client.patch(
        f"{MONITORING}/elements/ho_so_truc_tuyen",
        headers=admin.headers,
        json={"non_negative": True, "max_value": 1000},
    )
    assert answer.status_code == 200, answer.text
    rule = {
        "code": "ho-so-toi-da",
        "name_vi": "Hồ sơ không quá 900",
        "left_expression": "ho_so_truc_tuyen",
        "comparison": "<=",
        "right_expression": "900",
    }
    answer = client.post(f"{MONITORING}/validation-rules", headers=admin.headers, json=rule)
    assert answer.status_code == 201, answer.text
    source = _payload(unit_set="current", unit_code="24", period_rule="previous_month")
    assert (
        client.post(f"{COLLECTION}/sources", json=source, headers=admin.headers).status_code == 201
    )
    now = utcnow()
    for body, why in ((b'{"data": {"online_dossiers": -4}}', "non-negative"),
                      (b'{"data": {"online_dossiers": 5000}}', "upper bound"),
                      (b'{"data": {"online_dossiers": 950}}', "breaks rule ho-so-toi-da")):  # fmt: skip
        with sessions.begin() as session:
            [source_id] = collection_run_service.due(session, now)
            plan = collection_run_service.claim(session, source_id, now, timedelta(minutes=5))
            assert plan is not None
            fetched = _fetched(body)
            items = collection_run_service.items(plan, fetched)
            run = collection_run_service.succeed(session, plan, fetched, items)
            assert (run.status.value, run.error_code) == ("failed", "values_refused")
            assert why in (run.error_en or "")
        now += timedelta(days=1)  # due again after its backoff
    with sessions() as session:
        assert session.scalars(select(DataValue)).all() == []  # nothing was written
