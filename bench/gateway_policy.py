"""Set-up of the gateway benchmark's ``full-policy`` scenario: the real gateway with every check.

A fresh registry database (a SQLite file in a directory of its own under the run's work
directory, or with ``--database postgresql`` a new database on the benchmark's PostgreSQL
server, so that each scenario starts empty; migrations applied) with a provider and a consumer system, a published
service whose base URL is the benchmark upstream and whose request schema (``REQUEST_SCHEMA``:
a dossier reference, a 12-digit citizen id, a date, a page count) every POST body is validated
against, an approved
grant (with a rate limit and quota high enough never to refuse, so they are counted on every
request) and a client-secret credential; the access token is fetched from the real token
endpoint. The gateway process gets its settings through ``TINHSO_*`` variables (put into
``os.environ`` here; ``bench.gateway`` passes the environment on after set-up).

Every benchmark request is thus: path check, token (cached after the first verification),
grant, rate limit + quota, request-schema validation (POST runs), forwarding, audit record
(hash-chained, group-committed to the database, durable before the answer) and metrics.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tinhso.app import create_app
from tinhso.core import migrations
from tinhso.core.config import Settings
from tinhso.core.db import build_engine, make_sessionmaker
from tinhso.registry.accounts import account_service
from tinhso.registry.models import CredentialKind, OrganisationKind
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, UserCreate

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bench.gateway import BenchContext

SECRET = "bench-only-secret-key-that-is-long-enough-0123456789"  # noqa: S105
PASSWORD = "mat-khau-do-hieu-nang-123"  # noqa: S105
API = "/api/v1/exchange"
# With ``--database postgresql``, bench.gateway puts its server's URL here; each scenario then
# gets a database of its own on it (otherwise a SQLite file of its own).
SERVER_ENV = "TINHSO_BENCH_POSTGRES_URL"
# The published data standard of the benchmark service (bench.gateway.REQUEST_BODY passes it).
REQUEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["ma_ho_so", "so_cccd", "ngay_nop"],
    "properties": {
        "ma_ho_so": {"type": "string", "minLength": 1, "maxLength": 40},
        "so_cccd": {"type": "string", "pattern": "^[0-9]{12}$"},
        "ngay_nop": {"type": "string", "format": "date"},
        "so_trang": {"type": "integer", "minimum": 1, "maximum": 10000},
    },
    "additionalProperties": False,
}


def _route(path: str) -> tuple[str, str, str, str]:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) < 4:
        msg = f"full-policy needs a path /org/system/service/version/..., not {path!r}"
        raise ValueError(msg)
    return parts[0], parts[1], parts[2], parts[3]


def _fresh_database(server_url: str, name: str) -> str:
    """A new, empty database on the benchmark's PostgreSQL server; its URL."""
    import psycopg  # noqa: PLC0415 - PostgreSQL runs only

    database = "bench_" + "".join(c if c.isalnum() else "_" for c in name.lower())
    base = make_url(server_url)
    plain = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    return base.set(database=database).render_as_string(hide_password=False)


def setup(ctx: BenchContext) -> Mapping[str, str]:
    organisation, system, code, version = _route(ctx.path)
    data = Path(tempfile.mkdtemp(prefix="tinhso-", dir=ctx.workdir))
    server = os.environ.get(SERVER_ENV)
    url = _fresh_database(server, data.name) if server else f"sqlite:///{data / 'bench.sqlite3'}"
    env = {
        "TINHSO_ENVIRONMENT": "test",
        "TINHSO_DATABASE_URL": url,
        "TINHSO_DATA_DIR": str(data),
        "TINHSO_SECRET_KEY": SECRET,
        "TINHSO_LOG_LEVEL": "WARNING",
        "TINHSO_EXCHANGE_TOKEN_SECONDS": "3600",
        "TINHSO_EXCHANGE_ALLOW_LOOPBACK": "true",  # the upstream is local
    }
    settings = Settings(
        environment="test",
        database_url=url,
        data_dir=data,
        secret_key=SECRET,  # type: ignore[arg-type]
        exchange_allow_loopback=True,
        exchange_token_seconds=3600,
        log_level="WARNING",
    )
    engine = build_engine(url)
    migrations.upgrade(engine)
    consumer_org = "bench-consumer" if organisation != "bench-consumer" else "bench-client"
    with make_sessionmaker(engine).begin() as session:
        for org in (organisation, consumer_org):
            organisation_service.create(
                session,
                OrganisationCreate(code=org, name_vi=org, kind=OrganisationKind.DEPARTMENT),
            )
        account_service.create(
            session,
            UserCreate(username="bench-admin", full_name="Bench", password=PASSWORD, roles=[]),
            platform_admin=True,
        )
        token = account_service.login(
            session, "bench-admin", PASSWORD, CredentialKind.API_TOKEN, 60
        ).token
    admin = {"Authorization": f"Bearer {token}"}

    def ok(response: object, status: int) -> dict[str, object]:
        code_ = getattr(response, "status_code", None)
        if code_ != status:
            raise RuntimeError(f"bench set-up: {code_} {getattr(response, 'text', '')}")
        body: dict[str, object] = response.json()  # type: ignore[attr-defined]
        return body

    with TestClient(create_app(settings, engine), base_url="http://127.0.0.1") as client:
        for org, sys_code, provider in ((organisation, system, True), (consumer_org, "app", False)):
            ok(
                client.post(
                    "/api/v1/systems",
                    json={
                        "code": sys_code,
                        "organisation_code": org,
                        "name_vi": sys_code,
                        "is_consumer": True,
                        "is_provider": provider,
                    },
                    headers=admin,
                ),
                201,
            )
        ok(
            client.post(
                f"{API}/services",
                json={
                    "provider": {"organisation_code": organisation, "system_code": system},
                    "code": code,
                    "version": version,
                    "name_vi": "Dịch vụ đo hiệu năng",
                    "base_url": f"http://{ctx.upstream}",
                    "classification": "internal",
                    "request_schema": REQUEST_SCHEMA,
                },
                headers=admin,
            ),
            201,
        )
        ok(
            client.post(
                f"{API}/services/{organisation}/{system}/{code}/{version}/status",
                json={"status": "published"},
                headers=admin,
            ),
            200,
        )
        request = ok(
            client.post(
                f"{API}/requests",
                json={
                    "consumer": {"organisation_code": consumer_org, "system_code": "app"},
                    "service": {
                        "organisation_code": organisation,
                        "system_code": system,
                        "code": code,
                        "version": version,
                    },
                    "purpose": "Đo hiệu năng cổng trao đổi dữ liệu",
                    "legal_basis": "Kiểm thử nội bộ, không có dữ liệu cá nhân",
                    "requested_methods": ["GET", "POST"],
                    "requested_paths": ["/"],
                },
                headers=admin,
            ),
            201,
        )
        ok(
            client.post(
                f"{API}/requests/{request['id']}/approve",
                json={
                    "allowed_methods": ["GET", "POST"],
                    "allowed_paths": ["/"],
                    "rate_per_second": 1_000_000,
                    "burst": 1_000_000,
                    "quota_per_day": 1_000_000_000,
                },
                headers=admin,
            ),
            201,
        )
        credential = ok(
            client.post(
                f"{API}/systems/{consumer_org}/app/credentials",
                json={"kind": "client_secret", "label": "bench"},
                headers=admin,
            ),
            201,
        )
        basic = base64.b64encode(
            f"{credential['client_id']}:{credential['client_secret']}".encode()
        ).decode()
        issued = ok(
            client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            ),
            200,
        )
    engine.dispose()
    os.environ.update(env)
    return {"Authorization": f"Bearer {issued['access_token']}"}
