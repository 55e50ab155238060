"""Who may call each operation of the OpenAPI document: the permission matrix's rules.

One entry per operation (``"METHOD /path/template"``). A rule names the identities that succeed
(any other signed-in identity is refused with 403, or 404 where the object is hidden from it;
anonymous callers get 401), the organisation whose viewer, officer and admin the identities
are, and how to build the request: path parameters, a JSON body, a form or files, made fresh
for each identity when the call consumes its target (deleting, approving, revoking...).
Where an operation has two parties, the admin of the other party (``counterpart_admin``) is
tried too.

The identities: ``anonymous``; the ``viewer``, ``officer`` and ``admin`` (organisation admin)
of the owning organisation; ``other_admin``, an organisation admin of an organisation outside
the owner's tree; ``platform_admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.conftest import TEST_PASSWORD
from tests.exchange.conftest import OPENAPI, REQUEST_SCHEMA

if TYPE_CHECKING:
    from tests.security.test_permission_matrix import World

ANONYMOUS = "anonymous"
VIEWER = "viewer"
OFFICER = "officer"
ADMIN = "admin"
OTHER_ADMIN = "other_admin"
PLATFORM_ADMIN = "platform_admin"
IDENTITIES = (ANONYMOUS, VIEWER, OFFICER, OTHER_ADMIN, ADMIN, PLATFORM_ADMIN)
# Where an operation has two parties (a provider and a consumer), also the admin of the other
# party: related to the object, yet not its owner.
COUNTERPART_ADMIN = "counterpart_admin"

PUBLIC = frozenset(IDENTITIES)
OFFICIALS = frozenset(IDENTITIES) - {ANONYMOUS}
MEMBERS = frozenset({VIEWER, OFFICER, ADMIN, PLATFORM_ADMIN})  # officials of the owner
OFFICERS = frozenset({OFFICER, ADMIN, PLATFORM_ADMIN})
ADMINS = frozenset({ADMIN, PLATFORM_ADMIN})
NOBODY: frozenset[str] = frozenset()

# Organisations of the world (see tests.conftest.province_tree): the province committee over
# two departments and a district committee; another province's committee outside the tree.
PROVINCE = "ubnd-tinh"
DEPARTMENT = "so-tttt"
PROVIDER = "so-yte"
CONSUMER = "ubnd-viet-yen"
OUTSIDE = "ubnd-khac"

EX = "/api/v1/exchange"
MON = "/api/v1/monitoring"
SERVICE = {"organisation_code": PROVIDER, "system_code": "his", "code": "ho-so", "version": "v1"}
SERVICE_PARAMS = {**SERVICE}


@dataclass(frozen=True)
class Call:
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None
    form: dict[str, str] | None = None
    fresh_token: bool = False  # sign the identity in again for this call (it revokes its token)


Prepare = Callable[["World", str], Call]


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    owner: str | None = None
    call: Prepare | Call = field(default_factory=Call)
    counterpart: str | None = None  # the other party's organisation, when there is one
    anonymous: int = 401  # the status of an anonymous caller refused
    denied: tuple[int, ...] = (403, 404)  # a signed-in identity refused


def _static(**params: str) -> Call:
    return Call(params=params)


# -- Fresh targets, made by the platform admin for each identity --------------------------------


def _service_call(world: World, who: str) -> Call:
    code = world.new_service(who, publish=False)
    return Call(params={**SERVICE, "code": code}, json={"status": "published"})


def _pending_request(world: World, who: str, body: Any = None) -> Call:
    return Call(params={"request_id": str(world.new_request(who))}, json=body or {})


def _grant(world: World, who: str) -> Call:
    return Call(
        params={"grant_id": str(world.new_grant(who))},
        json={"reason": "Hệ thống không còn nhu cầu khai thác"},
    )


def _suspended_grant(world: World, who: str) -> Call:
    grant_id = world.new_grant(who)
    world.as_admin("POST", f"{EX}/grants/{grant_id}/suspend", json={"reason": "Kiểm tra an ninh"})
    return Call(params={"grant_id": str(grant_id)})


def _narrowed_grant(world: World, who: str) -> Call:
    return Call(params={"grant_id": str(world.new_grant(who))}, json={"quota_per_day": 10})


def _credential(world: World, who: str) -> Call:
    return Call(params={"client_id": world.new_credential()})


def _organisation_code(world: World, who: str) -> Call:
    return Call(params={"code": world.new_organisation(who)})


def _user_with_role(world: World, who: str) -> Call:
    return Call(params={"username": world.new_user(who), "organisation_code": CONSUMER})


def _new_element(world: World, who: str) -> Call:
    return Call(params={"code": world.new_element(who)})


def _new_indicator(world: World, who: str) -> Call:
    return Call(params={"code": world.new_indicator(who)})


def _new_rule(world: World, who: str) -> Call:
    return Call(params={"code": world.new_validation_rule(who)})


def _new_plan(world: World, who: str) -> Call:
    return Call(params={"code": world.new_plan(who)})


def _new_target(world: World, who: str) -> Call:
    return Call(params={"code": "kh-1", "target_id": str(world.new_target())})


def _new_alert_rule(world: World, who: str) -> Call:
    return Call(params={"code": world.new_alert_rule(who)})


def _new_methodology(world: World, who: str) -> Call:
    return Call(params={"code": world.new_methodology(who)})


def _new_dashboard(world: World, who: str, body: Any = None) -> Call:
    slug = f"bdk-moi-{world.number()}"
    world.as_admin("POST", f"{MON}/dashboards", json=_dashboard_body(who) | {"slug": slug})
    return Call(params={"slug": slug}, json=body)


def _new_kiosk_body(world: World, who: str) -> Call:
    """A link to a fresh dashboard (made by the platform admin)."""
    slug = _new_dashboard(world, who).params["slug"]
    return Call(json={"label": f"Phòng họp {who}", "dashboards": [slug], "unit": "24"})


def _new_kiosk_link(world: World, who: str) -> Call:
    made = world.as_admin("POST", f"{MON}/kiosk-links", json=_new_kiosk_body(world, who).json)
    return Call(params={"link_id": str(made["id"])})


# -- Bodies ---------------------------------------------------------------------------------------
YEARS = {name: str(2015 + index) for index, name in enumerate((*IDENTITIES, COUNTERPART_ADMIN))}


def _value(world: World, who: str) -> Call:
    return Call(
        json={
            "element_code": "households",
            "unit": {"unit_set": "legacy", "code": "07759"},
            "period": YEARS[who],
            "value": 100,
        }
    )


def _values(world: World, who: str) -> Call:
    return Call(
        json={
            "values": [
                {
                    "element_code": "households",
                    "unit": {"unit_set": "legacy", "code": "07762"},
                    "period": YEARS[who],
                    "value": 200,
                }
            ]
        }
    )


def _import_file(world: World, who: str) -> Call:
    header = "Mã chỉ tiêu dữ liệu,Mã đơn vị hành chính,Bộ đơn vị (hiện hành/cũ),Kỳ báo cáo,Giá trị,Ghi chú"
    row = f"households,07765,cũ,{YEARS[who]},300,"
    content = ("\ufeff" + header + "\r\n" + row + "\r\n").encode()
    return Call(files={"file": ("so-lieu.csv", content, "text/csv")})


def _dhis2(world: World, who: str) -> Call:
    return Call(
        json={
            "dataSet": "pMbC0FJPkcm",
            "tinhso:unitSet": "legacy",
            "dataValues": [
                {
                    "dataElement": "households",
                    "period": str(int(YEARS[who]) - 10),
                    "orgUnit": "07759",
                    "value": "5",
                }
            ],
        }
    )


def _new_code(prefix: str, who: str) -> str:
    return f"{prefix}-{who.replace('_', '-')}"


def _json(make: Callable[[str], Any], **params: str) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        return Call(params=dict(params), json=make(who))

    return prepare


def _dashboard_body(who: str) -> Any:
    return {
        "slug": _new_code("bdk", who),
        "title_vi": "Bảng điều khiển thử",
        "unit": "24",
        "panels": [{"kind": "kpi", "settings": {"indicator": "households-fibre-rate"}}],
    }


def alert_rule_body(code: str) -> Any:
    return {
        "code": code,
        "name_vi": "Cảnh báo thử",
        "kind": "threshold",
        "indicator_code": "households-fibre-rate",
        "scope_unit": {"unit_set": "current", "code": "24"},
        "scope_level": "commune",
        "operator": "<",
        "threshold": 50,
    }


def _service_body(who: str) -> Any:
    return {
        "provider": {"organisation_code": PROVIDER, "system_code": "his"},
        "code": _new_code("dv", who),
        "version": "v1",
        "name_vi": "Dịch vụ thử",
        "base_url": "https://10.20.30.40/api",
        "openapi": OPENAPI,
        "request_schema": REQUEST_SCHEMA,
        "classification": "internal",
    }


def _request_body(world: World, who: str) -> Call:
    code = world.new_service(who, publish=True)
    return Call(
        json={
            "consumer": {"organisation_code": CONSUMER, "system_code": "mot-cua"},
            "service": {**SERVICE, "code": code},
            "purpose": "Giải quyết thủ tục hành chính cho công dân",
            "legal_basis": "Nghị định 194/2025/NĐ-CP",
            "requested_methods": ["GET"],
            "requested_paths": ["/citizens/"],
        }
    )


def _source_body(who: str) -> Any:
    return {
        "code": _new_code("nguon", who),
        "name_vi": "Nguồn thu thập thử",
        "element_code": "households",
        "service": SERVICE,
        "request_path": "/citizens/1",
        "value_path": "$.value",
        "unit_set": "legacy",
        "unit_code": "24",
        "period_rule": "previous_year",
        "interval_minutes": 60,
    }


def _methodology_body(who: str) -> Any:
    return {
        "code": _new_code("pp", who),
        "name_vi": "Bộ chỉ số thử",
        "max_points": 100,
        "components": [{"code": "ha-tang", "name_vi": "Hạ tầng", "max_points": 100}],
    }


_EXPORT = {"format": "csv"}
_ELEMENT_BODY = {
    "name_vi": "Chỉ tiêu thử",
    "unit_of_measure": "hộ",
    "value_type": "integer",
    "aggregation": "sum",
    "period_type": "year",
}

RULES: dict[str, Rule] = {
    # -- operations -------------------------------------------------------------------------------
    "GET /healthz": Rule(PUBLIC),
    "GET /readyz": Rule(PUBLIC),
    # Metrics go to loopback or the metrics token holder only; the test client is neither.
    "GET /metrics": Rule(NOBODY, anonymous=403),
    # -- registry: units (public) -----------------------------------------------------------------
    "GET /api/v1/units": Rule(PUBLIC, call=Call(query={"unit_set": "legacy", "level": "province"})),
    "GET /api/v1/units/{unit_set}/{code}": Rule(PUBLIC, call=_static(unit_set="legacy", code="24")),
    "GET /api/v1/units/legacy/{code}/successors": Rule(PUBLIC, call=_static(code="07759")),
    "GET /api/v1/units/current/{code}/predecessors": Rule(PUBLIC, call=_static(code="24")),
    # -- registry: organisations and systems ------------------------------------------------------
    "GET /api/v1/organisations": Rule(OFFICIALS),
    "POST /api/v1/organisations": Rule(
        ADMINS,
        DEPARTMENT,
        _json(
            lambda who: {
                "code": _new_code("phong", who),
                "name_vi": "Phòng thử",
                "kind": "other",
                "parent_code": DEPARTMENT,
            }
        ),
    ),
    "GET /api/v1/organisations/{code}": Rule(OFFICIALS, call=_static(code=DEPARTMENT)),
    "PATCH /api/v1/organisations/{code}": Rule(
        ADMINS, DEPARTMENT, Call(params={"code": DEPARTMENT}, json={"name_en": "Department"})
    ),
    "DELETE /api/v1/organisations/{code}": Rule(ADMINS, DEPARTMENT, _organisation_code),
    "GET /api/v1/systems": Rule(OFFICIALS),
    "POST /api/v1/systems": Rule(
        ADMINS,
        CONSUMER,
        _json(
            lambda who: {
                "code": _new_code("ht", who),
                "organisation_code": CONSUMER,
                "name_vi": "Hệ thống thử",
                "is_consumer": True,
            }
        ),
    ),
    "GET /api/v1/systems/{organisation_code}/{code}": Rule(
        OFFICIALS, call=_static(organisation_code=CONSUMER, code="mot-cua")
    ),
    "PATCH /api/v1/systems/{organisation_code}/{code}": Rule(
        ADMINS,
        CONSUMER,
        Call(params={"organisation_code": CONSUMER, "code": "mot-cua"}, json={"name_en": "One"}),
        counterpart=PROVIDER,
    ),
    # -- registry: sign-in and users --------------------------------------------------------------
    "POST /api/v1/auth/tokens": Rule(
        PUBLIC, call=lambda world, who: Call(json=world.sign_in_body())
    ),
    "DELETE /api/v1/auth/tokens/current": Rule(OFFICIALS, call=Call(fresh_token=True)),
    "GET /api/v1/users/me": Rule(OFFICIALS),
    "POST /api/v1/users": Rule(
        ADMINS,
        CONSUMER,
        _json(
            lambda who: {
                "username": _new_code("moi", who),
                "full_name": "Cán bộ mới",
                "password": TEST_PASSWORD,
                "roles": [{"organisation_code": CONSUMER, "role": "viewer"}],
            }
        ),
    ),
    # Themselves (the owner's viewer is the user read), platform admins, admins of their
    # organisation.
    "GET /api/v1/users/{username}": Rule(
        frozenset({VIEWER, ADMIN, PLATFORM_ADMIN}),
        CONSUMER,
        lambda world, who: Call(params={"username": world.username(CONSUMER, VIEWER)}),
    ),
    "PUT /api/v1/users/{username}/roles": Rule(
        ADMINS,
        CONSUMER,
        lambda world, who: Call(
            params={"username": world.bystander},
            json={"organisation_code": CONSUMER, "role": "viewer"},
        ),
        counterpart=PROVIDER,
    ),
    "DELETE /api/v1/users/{username}/roles/{organisation_code}": Rule(
        ADMINS, CONSUMER, _user_with_role
    ),
    # -- exchange: services ------------------------------------------------------------------------
    "GET /api/v1/exchange/services": Rule(OFFICIALS),
    "POST /api/v1/exchange/services": Rule(OFFICERS, PROVIDER, _json(_service_body)),
    "GET /api/v1/exchange/services/{organisation_code}/{system_code}/{code}/{version}": Rule(
        OFFICIALS, call=Call(params=SERVICE_PARAMS)
    ),
    "PATCH /api/v1/exchange/services/{organisation_code}/{system_code}/{code}/{version}": Rule(
        OFFICERS,
        PROVIDER,
        Call(params=SERVICE_PARAMS, json={"name_en": "Health records"}),
        counterpart=CONSUMER,
    ),
    "GET /api/v1/exchange/services/{organisation_code}/{system_code}/{code}/{version}/openapi": Rule(
        OFFICIALS, call=Call(params=SERVICE_PARAMS)
    ),
    "POST /api/v1/exchange/services/{organisation_code}/{system_code}/{code}/{version}/status": Rule(
        OFFICERS,
        PROVIDER,
        _service_call,
        counterpart=CONSUMER,
    ),
    # -- exchange: connection requests and grants ---------------------------------------------------
    "POST /api/v1/exchange/requests": Rule(OFFICERS, CONSUMER, _request_body, counterpart=PROVIDER),
    "GET /api/v1/exchange/requests": Rule(OFFICIALS),
    "GET /api/v1/exchange/requests/overdue": Rule(OFFICIALS),
    "GET /api/v1/exchange/requests/{request_id}": Rule(
        MEMBERS | {COUNTERPART_ADMIN},
        CONSUMER,
        lambda world, who: Call(params={"request_id": str(world.request_id)}),
        counterpart=PROVIDER,
    ),
    "POST /api/v1/exchange/requests/{request_id}/approve": Rule(
        ADMINS, PROVIDER, _pending_request, counterpart=CONSUMER
    ),
    "POST /api/v1/exchange/requests/{request_id}/refuse": Rule(
        ADMINS,
        PROVIDER,
        lambda world, who: _pending_request(world, who, {"reason": "Chưa đủ căn cứ pháp lý"}),
        counterpart=CONSUMER,
    ),
    "POST /api/v1/exchange/requests/{request_id}/withdraw": Rule(
        OFFICERS,
        CONSUMER,
        _pending_request,
        counterpart=PROVIDER,
    ),
    "GET /api/v1/exchange/grants": Rule(OFFICIALS),
    "GET /api/v1/exchange/grants/{grant_id}": Rule(
        MEMBERS | {COUNTERPART_ADMIN},
        CONSUMER,
        lambda world, who: Call(params={"grant_id": str(world.grant_id)}),
        counterpart=PROVIDER,
    ),
    "POST /api/v1/exchange/grants/{grant_id}/revoke": Rule(
        ADMINS | {COUNTERPART_ADMIN}, CONSUMER, _grant, counterpart=PROVIDER
    ),
    "POST /api/v1/exchange/grants/{grant_id}/suspend": Rule(
        ADMINS | {COUNTERPART_ADMIN}, CONSUMER, _grant, counterpart=PROVIDER
    ),
    "POST /api/v1/exchange/grants/{grant_id}/resume": Rule(
        ADMINS | {COUNTERPART_ADMIN}, CONSUMER, _suspended_grant, counterpart=PROVIDER
    ),
    "POST /api/v1/exchange/grants/{grant_id}/narrow": Rule(
        ADMINS, PROVIDER, _narrowed_grant, counterpart=CONSUMER
    ),
    # -- exchange: client credentials and OAuth2 -----------------------------------------------------
    "GET /api/v1/exchange/systems/{organisation_code}/{system_code}/credentials": Rule(
        ADMINS,
        CONSUMER,
        _static(organisation_code=CONSUMER, system_code="mot-cua"),
        counterpart=PROVIDER,
    ),
    "POST /api/v1/exchange/systems/{organisation_code}/{system_code}/credentials": Rule(
        ADMINS,
        CONSUMER,
        Call(
            params={"organisation_code": CONSUMER, "system_code": "mot-cua"},
            json={"kind": "client_secret"},
        ),
        counterpart=PROVIDER,
    ),
    "POST /api/v1/exchange/credentials/{client_id}/rotate": Rule(
        ADMINS, CONSUMER, _credential, counterpart=PROVIDER
    ),
    "POST /api/v1/exchange/credentials/{client_id}/unlock": Rule(
        ADMINS,
        CONSUMER,
        lambda world, who: Call(params={"client_id": world.client_id}),
        counterpart=PROVIDER,
    ),
    "POST /api/v1/exchange/credentials/{client_id}/revoke": Rule(
        ADMINS, CONSUMER, _credential, counterpart=PROVIDER
    ),
    # Systems, not officials, authenticate here: an official's bearer token is no client
    # authentication.
    "POST /oauth/token": Rule(
        NOBODY, denied=(401,), call=Call(form={"grant_type": "client_credentials"})
    ),
    "GET /.well-known/jwks.json": Rule(PUBLIC),
    "GET /.well-known/oauth-authorization-server": Rule(PUBLIC),
    # -- monitoring: catalogue (platform admins and province admins) --------------------------------
    "GET /api/v1/monitoring/pillars": Rule(OFFICIALS),
    "POST /api/v1/monitoring/pillars": Rule(
        ADMINS,
        PROVINCE,
        _json(lambda who: {"code": _new_code("tru-cot", who), "name_vi": "Trụ cột"}),
    ),
    "GET /api/v1/monitoring/elements": Rule(OFFICIALS),
    "POST /api/v1/monitoring/elements": Rule(
        ADMINS, PROVINCE, _json(lambda who: {"code": f"ct_{who}", **_ELEMENT_BODY})
    ),
    "GET /api/v1/monitoring/elements/{code}": Rule(OFFICIALS, call=_static(code="households")),
    "PATCH /api/v1/monitoring/elements/{code}": Rule(
        ADMINS, PROVINCE, Call(params={"code": "households"}, json={"name_en": "Households"})
    ),
    "DELETE /api/v1/monitoring/elements/{code}": Rule(ADMINS, PROVINCE, _new_element),
    "GET /api/v1/monitoring/indicators": Rule(OFFICIALS),
    "POST /api/v1/monitoring/indicators": Rule(
        ADMINS,
        PROVINCE,
        _json(
            lambda who: {
                "code": _new_code("chi-so", who),
                "name_vi": "Chỉ số thử",
                "formula": "households_fibre / households * 100",
                "unit_of_measure": "%",
            }
        ),
    ),
    "GET /api/v1/monitoring/indicators/{code}": Rule(
        OFFICIALS, call=_static(code="households-fibre-rate")
    ),
    "PATCH /api/v1/monitoring/indicators/{code}": Rule(
        ADMINS,
        PROVINCE,
        Call(params={"code": "households-fibre-rate"}, json={"name_en": "Fibre households"}),
    ),
    "DELETE /api/v1/monitoring/indicators/{code}": Rule(ADMINS, PROVINCE, _new_indicator),
    "GET /api/v1/monitoring/validation-rules": Rule(OFFICIALS),
    "POST /api/v1/monitoring/validation-rules": Rule(
        ADMINS,
        PROVINCE,
        _json(
            lambda who: {
                "code": _new_code("quy-tac", who),
                "name_vi": "Quy tắc thử",
                "left_expression": "households_fibre",
                "comparison": "<=",
                "right_expression": "households",
            }
        ),
    ),
    "DELETE /api/v1/monitoring/validation-rules/{code}": Rule(ADMINS, PROVINCE, _new_rule),
    "GET /api/v1/monitoring/plans": Rule(OFFICIALS),
    "POST /api/v1/monitoring/plans": Rule(
        ADMINS,
        PROVINCE,
        _json(
            lambda who: {
                "code": _new_code("kh", who),
                "number": "1/KH-UBND",
                "title_vi": "Kế hoạch thử",
                "issuing_body": "UBND tỉnh",
            }
        ),
    ),
    "GET /api/v1/monitoring/plans/{code}": Rule(OFFICIALS, call=_static(code="kh-1")),
    "PATCH /api/v1/monitoring/plans/{code}": Rule(
        ADMINS, PROVINCE, Call(params={"code": "kh-1"}, json={"title_en": "Plan"})
    ),
    "DELETE /api/v1/monitoring/plans/{code}": Rule(ADMINS, PROVINCE, _new_plan),
    "GET /api/v1/monitoring/plans/{code}/targets": Rule(OFFICIALS, call=_static(code="kh-1")),
    "POST /api/v1/monitoring/plans/{code}/targets": Rule(
        ADMINS,
        PROVINCE,
        lambda world, who: Call(
            params={"code": "kh-1"},
            json={
                "indicator_code": "households-fibre-rate",
                "scope_unit": {"unit_set": "legacy", "code": "24"},
                "scope_unit_set": "legacy",
                "year": int(YEARS[who]) + 15,
                "target_value": 80,
            },
        ),
    ),
    "DELETE /api/v1/monitoring/plans/{code}/targets/{target_id}": Rule(
        ADMINS, PROVINCE, _new_target
    ),
    "GET /api/v1/monitoring/methodologies": Rule(OFFICIALS),
    "POST /api/v1/monitoring/methodologies": Rule(ADMINS, PROVINCE, _json(_methodology_body)),
    "GET /api/v1/monitoring/methodologies/{code}": Rule(OFFICIALS, call=_static(code="pp-1")),
    "DELETE /api/v1/monitoring/methodologies/{code}": Rule(ADMINS, PROVINCE, _new_methodology),
    # -- monitoring: values (officers of the unit's organisation, or above) -------------------------
    "GET /api/v1/monitoring/values": Rule(OFFICIALS),
    "POST /api/v1/monitoring/values": Rule(OFFICERS, CONSUMER, _value),
    "POST /api/v1/monitoring/values/batch": Rule(OFFICERS, CONSUMER, _values),
    "GET /api/v1/monitoring/values/{value_id}": Rule(
        OFFICIALS, call=lambda world, who: Call(params={"value_id": str(world.value_id)})
    ),
    "PUT /api/v1/monitoring/values/{value_id}": Rule(
        OFFICERS,
        CONSUMER,
        lambda world, who: Call(
            params={"value_id": str(world.value_id)},
            json={"value": 1200 + len(who), "reason": "Sửa theo báo cáo chính thức"},
        ),
    ),
    "GET /api/v1/monitoring/values/{value_id}/corrections": Rule(
        OFFICIALS, call=lambda world, who: Call(params={"value_id": str(world.value_id)})
    ),
    "GET /api/v1/monitoring/indicators/{code}/values": Rule(
        OFFICIALS,
        call=Call(
            params={"code": "households-fibre-rate"}, query={"period": "2024", "tree": "legacy"}
        ),
    ),
    "GET /api/v1/monitoring/map": Rule(
        OFFICIALS,
        call=Call(query={"indicator": "households-fibre-rate", "period": "2024"}),
    ),
    # -- monitoring: alerts (any official reads; rules managed like the catalogue) -----------
    "GET /api/v1/monitoring/alerts": Rule(OFFICIALS, call=Call(query={"state": "open"})),
    "GET /api/v1/monitoring/alert-rules": Rule(OFFICIALS),
    "POST /api/v1/monitoring/alert-rules": Rule(
        ADMINS, PROVINCE, _json(lambda who: alert_rule_body(_new_code("canh-bao", who)))
    ),
    "GET /api/v1/monitoring/alert-rules/{code}": Rule(OFFICIALS, call=_new_alert_rule),
    "PATCH /api/v1/monitoring/alert-rules/{code}": Rule(
        ADMINS,
        PROVINCE,
        lambda world, who: Call(
            params={"code": world.new_alert_rule(who)}, json={"enabled": False}
        ),
    ),
    "DELETE /api/v1/monitoring/alert-rules/{code}": Rule(ADMINS, PROVINCE, _new_alert_rule),
    "PUT /api/v1/monitoring/boundaries": Rule(
        frozenset({PLATFORM_ADMIN}),
        call=Call(
            query={"level": "province"},
            files={
                "file": (
                    "ranh-gioi.geojson",
                    b'{"type": "FeatureCollection", "features": []}',
                    "application/geo+json",
                )
            },
        ),
    ),
    "GET /api/v1/monitoring/indicators/{code}/ranking": Rule(
        OFFICIALS,
        call=Call(
            params={"code": "households-fibre-rate"},
            query={"unit_set": "legacy", "level": "commune", "period": "2024"},
        ),
    ),
    "GET /api/v1/monitoring/plans/{code}/progress": Rule(OFFICIALS, call=_static(code="kh-1")),
    "GET /api/v1/monitoring/methodologies/{code}/index": Rule(
        OFFICIALS, call=Call(params={"code": "pp-1"}, query={"period": "2024", "tree": "legacy"})
    ),
    "GET /api/v1/monitoring/imports/template": Rule(OFFICIALS),
    "POST /api/v1/monitoring/imports": Rule(OFFICERS, CONSUMER, _import_file),
    "POST /api/v1/monitoring/dhis2/dataValueSets": Rule(OFFICERS, CONSUMER, _dhis2),
    "GET /api/v1/monitoring/dhis2/dataValueSets": Rule(
        OFFICIALS, call=Call(query={"unit_set": "legacy"})
    ),
    "GET /api/v1/monitoring/exports/values": Rule(OFFICIALS, call=Call(query=_EXPORT)),
    "GET /api/v1/monitoring/exports/indicators/{code}/values": Rule(
        OFFICIALS,
        call=Call(
            params={"code": "households-fibre-rate"},
            query={**_EXPORT, "period": "2024", "tree": "legacy"},
        ),
    ),
    "GET /api/v1/monitoring/exports/indicators/{code}/ranking": Rule(
        OFFICIALS,
        call=Call(
            params={"code": "households-fibre-rate"},
            query={**_EXPORT, "unit_set": "legacy", "level": "commune", "period": "2024"},
        ),
    ),
    "GET /api/v1/monitoring/exports/plans/{code}/progress": Rule(
        OFFICIALS, call=Call(params={"code": "kh-1"}, query=_EXPORT)
    ),
    "GET /api/v1/monitoring/exports/methodologies/{code}/index": Rule(
        OFFICIALS,
        call=Call(params={"code": "pp-1"}, query={**_EXPORT, "period": "2024", "tree": "legacy"}),
    ),
    # -- monitoring: dashboards (every official reads; platform admins and province admins write) --
    "GET /api/v1/monitoring/dashboards": Rule(OFFICIALS),
    "POST /api/v1/monitoring/dashboards": Rule(ADMINS, PROVINCE, _json(_dashboard_body)),
    "GET /api/v1/monitoring/dashboards/{slug}": Rule(OFFICIALS, call=_new_dashboard),
    "PATCH /api/v1/monitoring/dashboards/{slug}": Rule(
        ADMINS, PROVINCE, lambda world, who: _new_dashboard(world, who, {"title_en": "Board"})
    ),
    "PUT /api/v1/monitoring/dashboards/{slug}/panels": Rule(
        ADMINS,
        PROVINCE,
        lambda world, who: _new_dashboard(
            world, who, {"panels": [{"kind": "exchange", "settings": {"days": 7}}]}
        ),
    ),
    "DELETE /api/v1/monitoring/dashboards/{slug}": Rule(ADMINS, PROVINCE, _new_dashboard),
    # -- monitoring: kiosk links (those who edit dashboards; the screen itself is the portal's) ---
    "GET /api/v1/monitoring/kiosk-links": Rule(ADMINS, PROVINCE),
    "POST /api/v1/monitoring/kiosk-links": Rule(ADMINS, PROVINCE, _new_kiosk_body),
    "POST /api/v1/monitoring/kiosk-links/{link_id}/revoke": Rule(ADMINS, PROVINCE, _new_kiosk_link),
    # -- monitoring: collection sources (platform admins and province admins) -----------------------
    "GET /api/v1/monitoring/collection/sources": Rule(ADMINS, PROVINCE),
    "POST /api/v1/monitoring/collection/sources": Rule(ADMINS, PROVINCE, _json(_source_body)),
    "GET /api/v1/monitoring/collection/sources/{code}": Rule(
        ADMINS, PROVINCE, _static(code="nguon-1")
    ),
    "PATCH /api/v1/monitoring/collection/sources/{code}": Rule(
        ADMINS, PROVINCE, Call(params={"code": "nguon-1"}, json={"name_en": "Source"})
    ),
    "POST /api/v1/monitoring/collection/sources/{code}/run": Rule(
        ADMINS, PROVINCE, _static(code="nguon-1")
    ),
    "GET /api/v1/monitoring/collection/sources/{code}/runs": Rule(
        ADMINS, PROVINCE, _static(code="nguon-1")
    ),
}


# -- opendata: the CKAN Action API (reads public; writes by the publisher's officers) -----------
# A refused CKAN action answers 403 "Authorization Error", anonymous callers included.

OPENDATA_PREFIXES = ("/api/3/action", "/api/action")
_OPENDATA_WORLD: dict[int, dict[str, str]] = {}


def _opendata_post(world: World, action: str, body: dict[str, Any]) -> Any:
    return world.as_admin("POST", f"/api/3/action/{action}", json=body)["result"]


def _opendata_dataset(world: World) -> dict[str, str]:
    """A fresh public dataset of the department, with one link resource."""
    created = _opendata_post(
        world,
        "package_create",
        {
            "name": f"bo-du-lieu-{world.number()}",
            "title": "Bộ dữ liệu thử",
            "owner_org": DEPARTMENT,
            "groups": [{"name": "giao-duc"}],
            "tags": [{"name": "thử"}],
            "resources": [{"url": "https://example.org/a.csv"}],
        },
    )
    return {"id": created["id"], "name": created["name"], "resource": created["resources"][0]["id"]}


def _opendata_file(world: World) -> Call:
    """The module's dataset's uploaded file: its download path's parameters."""
    found = _opendata_world(world)
    if "file" not in found:
        uploaded = world.as_admin(
            "POST",
            "/api/3/action/resource_create",
            data={"package_id": found["id"], "name": "Tệp thử"},
            files={"upload": ("thu.csv", b"a,b\r\n1,2\r\n", "text/csv")},
        )["result"]
        found["file"] = uploaded["id"]
    return Call(
        params={"dataset_id": found["id"], "resource_id": found["file"], "filename": "thu.csv"}
    )


def _opendata_table(world: World, dataset_id: str) -> str:
    """A CSV uploaded to the dataset (its rows in the datastore): the resource's id."""
    uploaded = world.as_admin(
        "POST",
        "/api/3/action/resource_create",
        data={"package_id": dataset_id, "name": "Bảng thử"},
        files={"upload": ("bang.csv", b"ma,so\r\nx,1\r\ny,2\r\n", "text/csv")},
    )["result"]
    return str(uploaded["id"])


def _opendata_datastore_read(method: str) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        found = _opendata_world(world)
        if "table" not in found:
            found["table"] = _opendata_table(world, found["id"])
        values = {"resource_id": found["table"], "id": found["table"]}
        return Call(query=values) if method == "GET" else Call(json=values)

    return prepare


def _opendata_world(world: World) -> dict[str, str]:
    """The module's dataset (and the reference themes and licences), made once."""
    found = _OPENDATA_WORLD.get(id(world))
    if found is None:
        from tinhso.opendata.catalogue.reference import load_reference  # noqa: PLC0415

        with world.client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
            load_reference(session)
        found = _OPENDATA_WORLD[id(world)] = _opendata_dataset(world)
    return found


def _opendata_read(params: Callable[[dict[str, str]], dict[str, str]], method: str) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        values = params(_opendata_world(world))
        return Call(query=values) if method == "GET" else Call(json=values)

    return prepare


def _opendata_write(body: Callable[[World, dict[str, str]], dict[str, Any]]) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        _opendata_world(world)
        return Call(json=body(world, _opendata_dataset(world)))

    return prepare


_OPENDATA_READS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "status_show": lambda _: {},
    "package_list": lambda _: {},
    "package_show": lambda found: {"id": found["name"]},
    "package_search": lambda _: {"q": "bo du lieu", "facet.field": '["tags"]'},
    "package_activity_list": lambda found: {"id": found["name"]},
    "organization_list": lambda _: {},
    "organization_show": lambda _: {"id": DEPARTMENT},
    "group_list": lambda _: {},
    "group_show": lambda _: {"id": "giao-duc"},
    "tag_list": lambda _: {},
    "license_list": lambda _: {},
    "resource_show": lambda found: {"id": found["resource"]},
}
_OPENDATA_WRITES: dict[str, Callable[[World, dict[str, str]], dict[str, Any]]] = {
    "package_create": lambda world, _: {
        "name": f"bo-moi-{world.number()}",
        "title": "Bộ dữ liệu mới",
        "owner_org": DEPARTMENT,
    },
    "package_update": lambda _, found: {
        "id": found["id"],
        "title": "Đã cập nhật",
        "owner_org": DEPARTMENT,
    },
    "package_patch": lambda _, found: {"id": found["id"], "notes": "Đã sửa"},
    "package_delete": lambda _, found: {"id": found["id"]},
    "resource_create": lambda _, found: {
        "package_id": found["id"],
        "url": "https://example.org/b.json",
    },
    "resource_delete": lambda _, found: {"id": found["resource"]},
    "resource_update": lambda _, found: {
        "id": found["resource"],
        "url": "https://example.org/c.csv",
    },
    "datastore_create": lambda world, found: {
        "resource_id": _opendata_table(world, found["id"]),
        "fields": [{"id": "so", "type": "text"}],
        "force": True,
    },
    "datastore_delete": lambda world, found: {
        "resource_id": _opendata_table(world, found["id"]),
        "force": True,
    },
}


def _opendata_dump(world: World) -> Call:
    found = _opendata_world(world)
    if "table" not in found:
        found["table"] = _opendata_table(world, found["id"])
    return Call(params={"resource_id": found["table"]})


RULES["GET /datastore/dump/{resource_id}"] = Rule(
    PUBLIC, call=lambda world, who: _opendata_dump(world)
)
RULES["GET /dataset/{dataset_id}/resource/{resource_id}/download/{filename}"] = Rule(
    PUBLIC, call=lambda world, who: _opendata_file(world)
)
for _prefix in OPENDATA_PREFIXES:
    for _action, _params in _OPENDATA_READS.items():
        for _method in ("GET", "POST"):
            RULES[f"{_method} {_prefix}/{_action}"] = Rule(
                PUBLIC, call=_opendata_read(_params, _method)
            )
    for _method in ("GET", "POST"):
        for _action in ("datastore_search", "datastore_info"):
            RULES[f"{_method} {_prefix}/{_action}"] = Rule(
                PUBLIC, call=_opendata_datastore_read(_method)
            )
    for _action, _body in _OPENDATA_WRITES.items():
        RULES[f"POST {_prefix}/{_action}"] = Rule(
            OFFICERS, DEPARTMENT, _opendata_write(_body), anonymous=403
        )

# -- opendata: the agencies' open-data lists (members read; officers record a review) --------
RULES["GET /api/v1/opendata/lists/{organisation_code}"] = Rule(
    MEMBERS, DEPARTMENT, _static(organisation_code=DEPARTMENT)
)
RULES["POST /api/v1/opendata/lists/{organisation_code}/reviews"] = Rule(
    OFFICERS,
    DEPARTMENT,
    Call(params={"organisation_code": DEPARTMENT}, json={"note": "Rà soát định kỳ"}),
)

# -- opendata: the DCAT-AP 3 export (public; private datasets never appear) ------------------
RULES["GET /catalog.{extension}"] = Rule(
    PUBLIC, call=lambda world, who: Call(params={"extension": "ttl"})
)
RULES["GET /dataset/{name}.{extension}"] = Rule(
    PUBLIC,
    call=lambda world, who: Call(
        params={"name": _opendata_world(world)["name"], "extension": "jsonld"}
    ),
)

# -- reports: officers act on their organisation's reports; operators hold keys and routes ------
# Open311 reads are public; its POST needs an application's api_key (403 without one, for
# officials' tokens too: they are not Open311 keys). Rating and reopening need the reporter's
# key, which no identity here holds (403).

OPERATORS = frozenset({PLATFORM_ADMIN})
_REPORTS_WORLD: set[int] = set()
OPEN311 = "/open311/v2"


def _reports_world(world: World) -> None:
    """A category, and the route of every report in current Bắc Ninh (24) to the consumer."""
    if id(world) in _REPORTS_WORLD:
        return
    from tinhso.registry.models import UnitSet  # noqa: PLC0415
    from tinhso.registry.organisations import organisation_service  # noqa: PLC0415
    from tinhso.registry.units import unit_service  # noqa: PLC0415
    from tinhso.reports.handling import routing  # noqa: PLC0415
    from tinhso.reports.models import ReportCategory, Severity  # noqa: PLC0415

    with world.client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        category = ReportCategory(
            code="moi-truong",
            name_vi="Môi trường",
            name_en="Environment",
            severity=Severity.NORMAL,
            attributes=[],
        )
        session.add(category)
        session.flush()
        province = unit_service.get(session, UnitSet.CURRENT, "24")
        routing.set_route(
            session, None, province.id, organisation_service.get(session, CONSUMER).id
        )
    _REPORTS_WORLD.add(id(world))


def _report(world: World) -> str:
    """A fresh report, waiting at the consumer's committee: its code."""
    from tinhso.core.calendar import shipped_calendar  # noqa: PLC0415
    from tinhso.core.config import ReportsSection  # noqa: PLC0415
    from tinhso.reports.handling.deadlines import DeadlinePolicy  # noqa: PLC0415
    from tinhso.reports.models import Channel  # noqa: PLC0415
    from tinhso.reports.service import Submission, report_service  # noqa: PLC0415

    _reports_world(world)
    with world.client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        submitted = report_service.submit(
            session,
            Submission(
                category_code="moi-truong",
                description="Rác",
                channel=Channel.WEB,
                unit_code="07777",
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        )
        return submitted.report.code


def _report_call(**extra: Any) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        return Call(params={"code": _report(world)}, **extra)

    return prepare


def _open311(**params: str) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        _reports_world(world)
        if params.get("service_request_id") == "fresh":
            return Call(params={**params, "service_request_id": _report(world)})
        return Call(params=dict(params))

    return prepare


def _open311_post(world: World, who: str) -> Call:
    _reports_world(world)
    form = {"service_code": "moi-truong", "description": "Rác", "unit_code": "07777"}
    return Call(params={"fmt": "json"}, form=form)


def _new_key(world: World, who: str) -> Call:
    made = world.as_admin("POST", "/api/v1/report-keys", json={"name": f"App {world.number()}"})
    return Call(params={"key_id": str(made["id"])})


RULES.update(
    {
        "GET /api/v1/reports": Rule(
            MEMBERS, CONSUMER, lambda world, who: Call(query={"organisation": CONSUMER})
        ),
        "GET /api/v1/reports/{code}": Rule(MEMBERS, CONSUMER, _report_call()),
        "POST /api/v1/reports/{code}/actions": Rule(
            OFFICERS, CONSUMER, _report_call(json={"action": "accept"})
        ),
        "POST /api/v1/reports/{code}/rating": Rule(
            NOBODY,
            call=_report_call(json={"key": "not-the-key", "rating": "satisfied"}),
            anonymous=403,
            denied=(403,),
        ),
        "POST /api/v1/reports/{code}/reopen": Rule(
            NOBODY,
            call=_report_call(json={"key": "not-the-key", "reason": "Chưa xử lý"}),
            anonymous=403,
            denied=(403,),
        ),
        "GET /api/v1/report-keys": Rule(OPERATORS),
        "POST /api/v1/report-keys": Rule(
            OPERATORS, call=lambda world, who: Call(json={"name": f"Ứng dụng {world.number()}"})
        ),
        "DELETE /api/v1/report-keys/{key_id}": Rule(OPERATORS, call=_new_key),
        "GET /api/v1/report-categories": Rule(OPERATORS),
        "POST /api/v1/report-categories": Rule(
            OPERATORS,
            call=lambda world, who: Call(
                json={
                    "code": f"loai-{world.number()}",
                    "name_vi": "Cây xanh",
                    "name_en": "Trees",
                    "severity": "normal",
                }
            ),
        ),
        "PUT /api/v1/report-categories/{code}": Rule(
            OPERATORS,
            call=Call(
                params={"code": "moi-truong"},
                json={"name_vi": "Môi trường", "name_en": "Environment", "severity": "normal"},
            ),
        ),
        "PUT /api/v1/report-routes": Rule(
            OPERATORS,
            call=Call(json={"unit_code": "07777", "organisation_code": CONSUMER}),
        ),
        f"GET {OPEN311}/services.{{fmt}}": Rule(PUBLIC, call=_open311(fmt="json")),
        f"GET {OPEN311}/services/{{service_code}}.{{fmt}}": Rule(
            PUBLIC, call=_open311(service_code="moi-truong", fmt="xml")
        ),
        f"GET {OPEN311}/requests.{{fmt}}": Rule(PUBLIC, call=_open311(fmt="json")),
        f"GET {OPEN311}/requests/{{service_request_id}}.{{fmt}}": Rule(
            PUBLIC, call=_open311(service_request_id="fresh", fmt="json")
        ),
        # No token is ever issued (every category is realtime): 404 for everyone.
        f"GET {OPEN311}/tokens/{{token}}.{{fmt}}": Rule(
            NOBODY, call=_static(token="abc", fmt="json"), anonymous=404, denied=(404,)
        ),
        f"POST {OPEN311}/requests.{{fmt}}": Rule(
            NOBODY,
            call=_open311_post,
            anonymous=403,
            denied=(403,),
        ),
    }
)


# -- registry: disabling, resetting, unlocking officials (admins of all their organisations) ----
def _fresh_user(**extra: Any) -> Prepare:
    def prepare(world: World, who: str) -> Call:
        return Call(params={"username": world.new_user(who)}, **extra)

    return prepare


RULES.update(
    {
        "PATCH /api/v1/users/{username}": Rule(
            ADMINS, CONSUMER, _fresh_user(json={"is_active": False})
        ),
        "POST /api/v1/users/{username}/password-reset": Rule(ADMINS, CONSUMER, _fresh_user()),
        "POST /api/v1/users/{username}/unlock": Rule(ADMINS, CONSUMER, _fresh_user()),
    }
)
