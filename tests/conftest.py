"""Test harness: a real database per run (SQLite file or a throwaway PostgreSQL server),
schema built by running the migrations, and every test starting from clean tables.

Choose the database with ``--db=sqlite`` (default) or ``--db=postgresql``;
``scripts/run_tests.py`` runs the suite on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from tests.registry.queries import QueryBudget
from tests.support.s3 import S3Server
from tests.support.services import PostgresServer
from tinhso.app import create_app
from tinhso.core import generations, migrations
from tinhso.core.config import Settings
from tinhso.core.db import build_engine, make_sessionmaker
from tinhso.models import metadata
from tinhso.registry.accounts import account_service
from tinhso.registry.models import CredentialKind, OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, RoleGrant, UnitRef, UserCreate
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import sessionmaker

# Reference data loaded once per run and kept between tests.
REFERENCE_TABLES = {
    "administrative_unit",
    "unit_succession",
    "alembic_version",
    "calendar_decided_day",
}
TEST_PASSWORD = "mat-khau-thu-nghiem-123"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="database the suite runs against",
    )


@pytest.fixture(scope="session")
def db_dialect(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def postgres_server(
    db_dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresServer | None]:
    if db_dialect != "postgresql":
        yield None
        return
    server = PostgresServer()
    server.start(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(
    db_dialect: str,
    postgres_server: PostgresServer | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    if postgres_server is not None:
        return postgres_server.url
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tinhso.sqlite3'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    migrations.upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        unit_service.import_catalogue(session)
        generations.renew_all(session)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every non-reference table after a test that used the database."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    tables = [t for t in reversed(metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        _renew_generations(engine)
        return
    with engine.connect() as connection:
        # Self-referencing trees (organisations) cannot be deleted row by row with
        # foreign keys enforced; the pragma only applies outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        for table in tables:
            connection.execute(delete(table))
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
    _renew_generations(engine)


def _renew_generations(engine: Engine) -> None:
    """The emptied tables were not written through a session: every kept figure is dropped by
    new generations, as ``tinhso db changed`` does after a restore (core.generations)."""
    with make_sessionmaker(engine).begin() as session:
        generations.renew_all(session)


@pytest.fixture
def query_budget(engine: Engine) -> QueryBudget:
    """Query-count budgets that must stay flat as rows grow (every list endpoint and page)."""
    return QueryBudget(engine)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking data; tests commit what the app must see."""
    with sessions() as session:
        yield session


def suite_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """The suite's settings, and what a test changes: the one place they are written."""
    return Settings(
        _env_file=None,  # the suite must not depend on a developer's .env
        environment="test",
        database_url=database_url,
        data_dir=data_dir,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        log_json=True,
        log_level="WARNING",
        **overrides,
    )


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """An S3-compatible server on loopback (moto's), started once for the session."""
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings; parametrised indirectly with "s3", open data's resource files go
    to a new bucket of the test S3 server (``TINHSO_STORAGE_BACKEND=s3``) instead of the disk
    ("s3-presigned": downloads redirected to presigned URLs)."""
    backend = getattr(request, "param", "disk")
    if backend in {"s3", "s3-presigned"}:
        server: S3Server = request.getfixturevalue("s3")
        section = server.section(
            server.new_bucket(), s3_presigned_downloads=backend == "s3-presigned"
        )
        return suite_settings(database_url, tmp_path, storage=section)
    return suite_settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@dataclass(frozen=True)
class Official:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeOfficial = Callable[..., Official]


@pytest.fixture
def make_official(sessions: sessionmaker[Session]) -> MakeOfficial:
    """Create an official with a role (or a platform admin) and an API token for them."""
    counter = iter(range(1, 10_000))

    def make(
        role: Role | None = None,
        organisation: str | None = None,
        *,
        platform_admin: bool = False,
        username: str | None = None,
    ) -> Official:
        name = username or f"official{next(counter)}"
        roles = (
            [RoleGrant(organisation_code=organisation, role=role)] if role and organisation else []
        )
        with sessions.begin() as session:
            account_service.create(
                session,
                UserCreate(
                    username=name, full_name=f"Cán bộ {name}", password=TEST_PASSWORD, roles=roles
                ),
                platform_admin=platform_admin,
            )
            issued = account_service.login(
                session, name, TEST_PASSWORD, CredentialKind.API_TOKEN, 30
            )
        return Official(username=name, token=issued.token)

    return make


@pytest.fixture
def admin(make_official: MakeOfficial) -> Official:
    return make_official(platform_admin=True, username="root-admin")


@pytest.fixture
def province_tree(sessions: sessionmaker[Session]) -> dict[str, str]:
    """A province committee with two departments and a district committee under it."""
    tree = [
        ("ubnd-tinh", "UBND tỉnh Bắc Giang", OrganisationKind.PROVINCE_COMMITTEE, None, "24"),
        ("so-tttt", "Sở Thông tin và Truyền thông", OrganisationKind.DEPARTMENT, "ubnd-tinh", None),
        ("so-yte", "Sở Y tế", OrganisationKind.DEPARTMENT, "ubnd-tinh", None),
        (
            "ubnd-viet-yen",
            "UBND thị xã Việt Yên",
            OrganisationKind.DISTRICT_COMMITTEE,
            "ubnd-tinh",
            "222",
        ),
        ("ubnd-khac", "UBND tỉnh khác", OrganisationKind.PROVINCE_COMMITTEE, None, None),
    ]
    with sessions.begin() as session:
        for code, name, kind, parent, unit in tree:
            organisation_service.create(
                session,
                OrganisationCreate(
                    code=code,
                    name_vi=name,
                    kind=kind,
                    parent_code=parent,
                    administrative_unit=UnitRef(unit_set="legacy", code=unit) if unit else None,  # type: ignore[arg-type]
                ),
            )
    return {code: name for code, name, *_ in tree}
