"""The permission matrix: every operation of the OpenAPI document × every identity gets the
status its rule expects (``tests/security/permission_rules.py``). An operation without a rule
fails the test that names it, so a new route cannot land without saying who may call it.

The world (organisations, officials, a service, a request, a grant, a credential, a catalogue,
a plan, a methodology, a value, a collection source) is built once for the module; calls that
consume their target get a fresh one per identity, made by the platform admin.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import REFERENCE_TABLES, TEST_PASSWORD, TEST_SECRET, Official, suite_settings
from tests.exchange.conftest import OPENAPI, REQUEST_SCHEMA
from tests.monitoring.support import create_fibre_catalogue
from tests.security.permission_rules import (
    ADMIN,
    ANONYMOUS,
    CONSUMER,
    COUNTERPART_ADMIN,
    IDENTITIES,
    OFFICER,
    OTHER_ADMIN,
    OUTSIDE,
    PLATFORM_ADMIN,
    PROVIDER,
    PROVINCE,
    RULES,
    SERVICE,
    VIEWER,
    Call,
    Rule,
    alert_rule_body,
)
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.core.db import make_sessionmaker
from tinhso.models import metadata
from tinhso.registry.accounts import account_service
from tinhso.registry.models import CredentialKind, OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, RoleGrant, UnitRef, UserCreate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

EX = "/api/v1/exchange"
MON = "/api/v1/monitoring"
ROLE_OF = {VIEWER: Role.VIEWER, OFFICER: Role.OFFICER, ADMIN: Role.ORGANISATION_ADMIN}
OWNERS = (PROVINCE, "so-tttt", PROVIDER, CONSUMER)


def _operations() -> set[str]:
    app = create_app(
        Settings(_env_file=None, environment="test", secret_key=TEST_SECRET)  # type: ignore[arg-type]
    )
    return {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
    }


def test_every_operation_has_a_rule() -> None:
    operations = _operations()
    missing = sorted(operations - RULES.keys())
    assert not missing, "operations without a permission rule: " + ", ".join(missing)
    stale = sorted(RULES.keys() - operations)
    assert not stale, "rules for operations that no longer exist: " + ", ".join(stale)


class World:
    """The module's data, and fresh targets made on demand by the platform admin."""

    def __init__(self, client: TestClient, officials: dict[tuple[str, str], Official]) -> None:
        self.client = client
        self.officials = officials
        self.platform = officials[("", PLATFORM_ADMIN)]
        self._numbers = itertools.count(1)
        self.request_id: int = 0
        self.grant_id: int = 0
        self.client_id: str = ""
        self.value_id: int = 0
        self.bystander: str = ""

    # -- helpers ------------------------------------------------------------------------------
    def as_admin(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.platform.headers, **kwargs)
        assert response.status_code < 300, (method, url, response.status_code, response.text)
        return response.json() if response.content else None

    def username(self, organisation: str, identity: str) -> str:
        return self.officials[(organisation, identity)].username

    def headers(self, rule: Rule, identity: str) -> dict[str, str]:
        if identity == ANONYMOUS:
            return {}
        return self.official(rule, identity).headers

    def official(self, rule: Rule, identity: str) -> Official:
        if identity == PLATFORM_ADMIN:
            return self.platform
        if identity == OTHER_ADMIN:
            return self.officials[(OUTSIDE, ADMIN)]
        if identity == COUNTERPART_ADMIN:
            assert rule.counterpart is not None
            return self.officials[(rule.counterpart, ADMIN)]
        return self.officials[(rule.owner or CONSUMER, identity)]

    def sign_in_body(self) -> dict[str, str]:
        return {"username": self.username(CONSUMER, VIEWER), "password": TEST_PASSWORD}

    def number(self) -> int:
        return next(self._numbers)

    # -- fresh targets ---------------------------------------------------------------------------
    def new_service(self, who: str, *, publish: bool) -> str:
        code = f"dv-{self.number()}"
        self.as_admin(
            "POST",
            f"{EX}/services",
            json={
                "provider": {"organisation_code": PROVIDER, "system_code": "his"},
                "code": code,
                "version": "v1",
                "name_vi": "Dịch vụ thử",
                "base_url": "https://10.20.30.40/api",
                "openapi": OPENAPI,
                "request_schema": REQUEST_SCHEMA,
                "classification": "internal",
            },
        )
        if publish:
            url = f"{EX}/services/{PROVIDER}/his/{code}/v1/status"
            self.as_admin("POST", url, json={"status": "published"})
        return code

    def new_request(self, who: str, code: str | None = None) -> int:
        code = code or self.new_service(who, publish=True)
        body = self.as_admin(
            "POST",
            f"{EX}/requests",
            json={
                "consumer": {"organisation_code": CONSUMER, "system_code": "mot-cua"},
                "service": {**SERVICE, "code": code},
                "purpose": "Giải quyết thủ tục hành chính cho công dân",
                "legal_basis": "Nghị định 194/2025/NĐ-CP",
                "requested_methods": ["GET"],
                "requested_paths": ["/citizens/"],
            },
        )
        return int(body["id"])

    def new_grant(self, who: str) -> int:
        request_id = self.new_request(who)
        body = self.as_admin("POST", f"{EX}/requests/{request_id}/approve", json={})
        return int(body["id"])

    def new_credential(self) -> str:
        url = f"{EX}/systems/{CONSUMER}/mot-cua/credentials"
        return str(self.as_admin("POST", url, json={"kind": "client_secret"})["client_id"])

    def new_organisation(self, who: str) -> str:
        code = f"to-{self.number()}"
        self.as_admin(
            "POST",
            "/api/v1/organisations",
            json={"code": code, "name_vi": "Tổ thử", "kind": "other", "parent_code": "so-tttt"},
        )
        return code

    def new_user(self, who: str) -> str:
        username = f"nguoi-{self.number()}"
        self.as_admin(
            "POST",
            "/api/v1/users",
            json={
                "username": username,
                "full_name": "Người thử",
                "password": TEST_PASSWORD,
                "roles": [{"organisation_code": CONSUMER, "role": "viewer"}],
            },
        )
        return username

    def new_element(self, who: str) -> str:
        code = f"ct_moi_{self.number()}"
        self.as_admin(
            "POST",
            f"{MON}/elements",
            json={
                "code": code,
                "name_vi": "Chỉ tiêu thử",
                "unit_of_measure": "hộ",
                "value_type": "integer",
                "aggregation": "sum",
                "period_type": "year",
            },
        )
        return code

    def new_indicator(self, who: str) -> str:
        code = f"chi-so-moi-{self.number()}"
        self.as_admin(
            "POST",
            f"{MON}/indicators",
            json={
                "code": code,
                "name_vi": "Chỉ số thử",
                "formula": "households_fibre / households * 100",
                "unit_of_measure": "%",
            },
        )
        return code

    def new_validation_rule(self, who: str) -> str:
        code = f"quy-tac-moi-{self.number()}"
        self.as_admin(
            "POST",
            f"{MON}/validation-rules",
            json={
                "code": code,
                "name_vi": "Quy tắc thử",
                "left_expression": "households_fibre",
                "comparison": "<=",
                "right_expression": "households",
            },
        )
        return code

    def new_plan(self, who: str) -> str:
        code = f"kh-moi-{self.number()}"
        self.as_admin(
            "POST",
            f"{MON}/plans",
            json={
                "code": code,
                "number": "2/KH-UBND",
                "title_vi": "Kế hoạch thử",
                "issuing_body": "UBND tỉnh",
            },
        )
        return code

    def new_target(self) -> int:
        body = self.as_admin(
            "POST",
            f"{MON}/plans/kh-1/targets",
            json={
                "indicator_code": "households-fibre-rate",
                "scope_unit": {"unit_set": "legacy", "code": "222"},
                "scope_unit_set": "legacy",
                "year": 2000 + self.number(),
                "target_value": 70,
            },
        )
        return int(body["id"])

    def new_alert_rule(self, who: str) -> str:
        code = f"canh-bao-moi-{self.number()}"
        self.as_admin("POST", f"{MON}/alert-rules", json=alert_rule_body(code))
        return code

    def new_methodology(self, who: str) -> str:
        code = f"pp-moi-{self.number()}"
        self.as_admin(
            "POST",
            f"{MON}/methodologies",
            json={
                "code": code,
                "name_vi": "Bộ chỉ số thử",
                "max_points": 100,
                "components": [{"code": "ha-tang", "name_vi": "Hạ tầng", "max_points": 100}],
            },
        )
        return code


# -- the module's world ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_tables() -> None:
    """The module's world is kept between its tests (emptied once, at the module's end)."""


@pytest.fixture(scope="module")
def matrix_app(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = suite_settings(
        engine.url.render_as_string(hide_password=False), tmp_path_factory.mktemp("matrix")
    )
    yield create_app(settings, engine)
    _empty(engine)


def _empty(engine: Engine) -> None:
    from sqlalchemy import delete, text  # noqa: PLC0415

    tables = [t for t in reversed(metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        for table in tables:
            connection.execute(delete(table))
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


@pytest.fixture(scope="module")
def world(matrix_app: Any, engine: Engine) -> Iterator[World]:
    sessions = make_sessionmaker(engine)
    tree = [
        ("ubnd-tinh", OrganisationKind.PROVINCE_COMMITTEE, None, "24"),
        ("so-tttt", OrganisationKind.DEPARTMENT, "ubnd-tinh", None),
        ("so-yte", OrganisationKind.DEPARTMENT, "ubnd-tinh", None),
        ("ubnd-viet-yen", OrganisationKind.DISTRICT_COMMITTEE, "ubnd-tinh", "222"),
        ("ubnd-khac", OrganisationKind.PROVINCE_COMMITTEE, None, None),
    ]
    officials: dict[tuple[str, str], Official] = {}
    with sessions.begin() as session:
        for code, kind, parent, unit in tree:
            organisation_service.create(
                session,
                OrganisationCreate(
                    code=code,
                    name_vi=f"Tổ chức {code}",
                    kind=kind,
                    parent_code=parent,
                    administrative_unit=(
                        UnitRef(unit_set="legacy", code=unit)  # type: ignore[arg-type]
                        if unit
                        else None
                    ),
                ),
            )
    wanted = [(owner, identity) for owner in OWNERS for identity in (VIEWER, OFFICER, ADMIN)]
    wanted += [(OUTSIDE, ADMIN), ("", PLATFORM_ADMIN)]
    for owner, identity in wanted:
        username = f"{identity}-{owner or 'nen-tang'}".replace("_", "-")
        roles = [RoleGrant(organisation_code=owner, role=ROLE_OF[identity])] if owner else []
        with sessions.begin() as session:
            account_service.create(
                session,
                UserCreate(
                    username=username,
                    full_name=f"Cán bộ {username}",
                    password=TEST_PASSWORD,
                    roles=roles,
                ),
                platform_admin=identity == PLATFORM_ADMIN,
            )
            issued = account_service.login(
                session, username, TEST_PASSWORD, CredentialKind.API_TOKEN, 600
            )
        officials[(owner, identity)] = Official(username, issued.token)

    with TestClient(matrix_app, base_url="http://127.0.0.1") as client:
        world = World(client, officials)
        _build(world)
        yield world


def _build(world: World) -> None:
    admin = world.platform
    for organisation, code, provider in ((PROVIDER, "his", True), (CONSUMER, "mot-cua", False)):
        world.as_admin(
            "POST",
            "/api/v1/systems",
            json={
                "code": code,
                "organisation_code": organisation,
                "name_vi": f"Hệ thống {code}",
                "is_consumer": True,
                "is_provider": provider,
            },
        )
    world.as_admin(
        "POST",
        f"{EX}/services",
        json={
            "provider": {"organisation_code": PROVIDER, "system_code": "his"},
            "code": SERVICE["code"],
            "version": "v1",
            "name_vi": "Tra cứu hồ sơ",
            "base_url": "https://10.20.30.40/api",
            "openapi": OPENAPI,
            "request_schema": REQUEST_SCHEMA,
            "classification": "internal",
        },
    )
    world.as_admin(
        "POST",
        f"{EX}/services/{PROVIDER}/his/{SERVICE['code']}/v1/status",
        json={"status": "published"},
    )
    world.request_id = world.new_request("world", SERVICE["code"])
    world.grant_id = world.new_grant("world")
    world.client_id = world.new_credential()
    world.bystander = world.new_user("world")

    create_fibre_catalogue(world.client, admin)
    world.as_admin(
        "POST",
        f"{MON}/plans",
        json={
            "code": "kh-1",
            "number": "1/KH-UBND",
            "title_vi": "Kế hoạch",
            "issuing_body": "UBND tỉnh",
        },
    )
    world.new_target()
    world.as_admin(
        "POST",
        f"{MON}/methodologies",
        json={
            "code": "pp-1",
            "name_vi": "Bộ chỉ số",
            "max_points": 100,
            "components": [{"code": "ha-tang", "name_vi": "Hạ tầng", "max_points": 100}],
        },
    )
    value = world.as_admin(
        "POST",
        f"{MON}/values",
        json={
            "element_code": "households",
            "unit": {"unit_set": "legacy", "code": "07759"},
            "period": "2024",
            "value": 1000,
        },
    )
    world.value_id = int(value["id"])
    world.as_admin(
        "POST",
        f"{MON}/collection/sources",
        json={
            "code": "nguon-1",
            "name_vi": "Nguồn thu thập",
            "element_code": "households",
            "service": SERVICE,
            "request_path": "/citizens/1",
            "value_path": "$.value",
            "unit_set": "legacy",
            "unit_code": "24",
            "period_rule": "previous_year",
            "interval_minutes": 60,
        },
    )


def _expected(rule: Rule, identity: str) -> str:
    if identity in rule.allowed:
        return "allowed"
    return "anonymous" if identity == ANONYMOUS else "denied"


def _matches(rule: Rule, identity: str, status: int) -> bool:
    expected = _expected(rule, identity)
    if expected == "allowed":
        return status < 400
    if expected == "anonymous":
        return status == rule.anonymous
    return status in rule.denied


def _send(world: World, rule: Rule, identity: str, call: Call, operation: str) -> int:
    method, template = operation.split(" ", 1)
    url = template.format(**call.params)
    headers = world.headers(rule, identity)
    if call.fresh_token and identity != ANONYMOUS:
        official = world.official(rule, identity)
        token = world.client.post(
            "/api/v1/auth/tokens",
            json={"username": official.username, "password": TEST_PASSWORD},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
    response = world.client.request(
        method,
        url,
        headers=headers,
        params=call.query or None,
        json=call.json,
        data=call.form,
        files=call.files,
        follow_redirects=False,
    )
    return response.status_code


@pytest.mark.parametrize("operation", sorted(RULES))
def test_permission_matrix(world: World, operation: str) -> None:
    rule = RULES[operation]
    wrong = []
    identities = (*IDENTITIES, COUNTERPART_ADMIN) if rule.counterpart else IDENTITIES
    for identity in identities:
        call = rule.call(world, identity) if callable(rule.call) else rule.call
        status = _send(world, rule, identity, call, operation)
        if not _matches(rule, identity, status):
            wrong.append(f"{identity}: {status} (expected {_expected(rule, identity)})")
    assert not wrong, f"{operation}: " + "; ".join(wrong)
