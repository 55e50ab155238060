"""The gateway forwards only the operations of a service's OpenAPI document (real gateway,
real provider), and the path templates are matched as OpenAPI says (unit checks)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.exchange.conftest import API, request_payload, service_payload
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    gateway_world,
    provider,
    raw_request,
    settings,
)
from tinhso.exchange.standard import ServiceOperations, compile_document, validate_body

if TYPE_CHECKING:
    from tests.exchange.gateway.gateway_harness import RawResponse

CATALOGUE = "so-yte/his/danh-muc/v1"
_OK = {"200": {"description": "OK"}}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Danh mục", "version": "1.0.0"},
    "servers": [{"url": "https://provider.example/api/v9"}],  # not used by the gateway
    "paths": {
        "/items": {
            "get": {"responses": _OK},
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}
                    },
                },
                "responses": _OK,
            },
        },
        "/items/{id}": {"get": {"parameters": _ID, "responses": _OK}},
    },
    "components": {
        "schemas": {
            "NewItem": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "unit": {"$ref": "#/components/schemas/Unit"},
                },
            },
            "Unit": {"type": "string", "enum": ["cai", "bo"]},
        }
    },
}


def _register_catalogue(world: GatewayWorld) -> int:
    """Register and publish ``so-yte/his/danh-muc/v1`` with DOCUMENT; grant GET/POST/DELETE on
    every path (the grant is wide on purpose: the document is what narrows it here)."""
    client, people = world.client, world.world
    response = client.post(
        f"{API}/services",
        json=service_payload(
            code="danh-muc",
            base_url=world.provider.url + "/api",
            openapi=DOCUMENT,
            request_schema=None,
            classification="internal",
        ),
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/services/{CATALOGUE}/status",
        json={"status": "published"},
        headers=people.admin.headers,
    )
    assert response.status_code == 200, response.text
    payload = request_payload(requested_methods=["GET", "POST", "DELETE"], requested_paths=["/"])
    payload["service"]["code"] = "danh-muc"
    response = client.post(f"{API}/requests", json=payload, headers=people.consumer_officer.headers)
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/requests/{response.json()['id']}/approve",
        json={},
        headers=people.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _call(
    url: str, token: str, method: str, target: str, body: dict[str, Any] | None = None
) -> RawResponse:
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    elif method == "POST":
        data = b""
    return raw_request(url, method, target, headers, data)


def test_only_the_documents_operations_are_forwarded(gateway_world: GatewayWorld) -> None:  # noqa: F811
    world = gateway_world
    grant_id = _register_catalogue(world)
    gateway = world.gateway()
    token = world.token()
    seen = len(world.provider.seen)

    # A templated path: forwarded, audited under the document's template.
    response = _call(gateway.url, token, "GET", f"/{CATALOGUE}/items/42?full=1")
    assert response.status == 200, response.body
    assert response.json()["path"] == "/api/items/42?full=1"
    response = _call(
        gateway.url, token, "POST", f"/{CATALOGUE}/items", {"name": "Bàn", "unit": "cai"}
    )
    assert response.status == 200, response.body
    assert json.loads(response.json()["body"]) == {"name": "Bàn", "unit": "cai"}
    assert len(world.provider.seen) == seen + 2

    refusals: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        ("GET", "/nothing", None, 404, "unknown_operation"),
        ("GET", "/items/42/history", None, 404, "unknown_operation"),
        ("DELETE", "/items/42", None, 405, "method_not_allowed"),
        ("POST", "/items", {"name": 5, "unit": "tan"}, 400, "schema_invalid"),
        ("POST", "/items", None, 400, "schema_invalid"),  # the document requires a body
    ]
    answers = []
    for method, rest, body, status, code in refusals:
        response = _call(gateway.url, token, method, f"/{CATALOGUE}{rest}", body)
        assert response.status == status, (method, rest, response.body)
        problem = response.json()
        assert problem["code"] == code
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["message"]["vi"] and problem["message"]["en"]
        answers.append((response, problem))
    assert len(world.provider.seen) == seen + 2  # none of them reached the provider
    assert answers[2][0].headers["allow"] == "GET, HEAD"
    fields = {error["field"] for error in answers[3][1]["errors"]}
    assert fields == {"name", "unit"}
    assert all(set(error["message"]) == {"vi", "en"} for error in answers[3][1]["errors"])
    assert answers[4][1]["errors"][0]["message"]["en"] == "a request body is required"

    # A service without an OpenAPI document works as before: any path its grant covers,
    # audited under the grant's pattern.
    response = _call(gateway.url, token, "GET", f"/{SERVICE}/citizens/any/thing")
    assert response.status == 200, response.body

    records = world.records()
    assert [(r["status"], r["outcome"], r["path_template"]) for r in records] == [
        (200, "ok", "/items/{id}"),
        (200, "ok", "/items"),
        (404, "unknown_operation", "/"),
        (404, "unknown_operation", "/"),
        (405, "method_not_allowed", "/"),
        (400, "schema_invalid", "/items"),
        (400, "schema_invalid", "/items"),
        (200, "ok", "/citizens/"),
    ]
    assert {r["grant_id"] for r in records[:7]} == {grant_id}
    assert all(r["service"] == CATALOGUE for r in records[:7])
    assert world.verify().ok


# -- matching, without a gateway ------------------------------------------------------------------
def _operations(paths: dict[str, Any], **extra: Any) -> ServiceOperations:
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    return ServiceOperations(compile_document({**document, **extra}))


def test_literal_segments_win_over_templated_ones() -> None:
    get = {"get": {"responses": _OK}}
    operations = _operations(
        {
            "/items/{id}": {"delete": {"responses": _OK}},
            "/items/search": get,
            "/{kind}/search": get,
            "/files/{name}.json": get,
        }
    )
    for method, path, template in (
        ("GET", "/items/search", "/items/search"),
        ("DELETE", "/items/7", "/items/{id}"),
        ("GET", "/things/search", "/{kind}/search"),
        ("GET", "/files/a b.json", "/files/{name}.json"),
        ("HEAD", "/items/search", "/items/search"),  # HEAD is allowed where GET is
    ):
        operation, _ = operations.match(method, path)
        assert operation is not None, (method, path)
        assert operation.template == template
    # The literal path decides, even though /items/{id} has DELETE: 405, not a fall-through.
    operation, item = operations.match("DELETE", "/items/search")
    assert operation is None
    assert item is not None
    assert item.allow == b"GET, HEAD"
    # A parameter is exactly one non-empty segment; no trailing-slash or prefix matches.
    for path in ("/items/", "/items/7/x", "/items", "/files/.json", "/items/7/"):
        assert operations.match("DELETE", path) == (None, None), path
    # Cached answers stay the same.
    assert operations.match("GET", "/things/search")[0] is not None
    assert operations.match("GET", "/items/7/x") == (None, None)


def test_request_bodies_by_reference_and_openapi_30_nullable() -> None:
    operations = _operations(
        {"/forms": {"put": {"requestBody": {"$ref": "#/components/requestBodies/Form"}}}},
        openapi="3.0.3",
        components={
            "requestBodies": {
                "Form": {
                    "content": {
                        "application/json; charset=utf-8": {
                            "schema": {"$ref": "#/components/schemas/Form"}
                        }
                    }
                }
            },
            "schemas": {
                "Form": {
                    "type": "object",
                    "properties": {"note": {"type": "string", "nullable": True}},
                    "additionalProperties": False,
                }
            },
        },
    )
    operation, _ = operations.match("PUT", "/forms")
    assert operation is not None
    assert operation.validator is not None
    assert operation.body_required is False
    assert validate_body(operation.validator, b"", operation.body_required) == []
    assert validate_body(operation.validator, b'{"note": null}', operation.body_required) == []
    errors = validate_body(operation.validator, b'{"other": 1}', operation.body_required)
    assert len(errors) == 1


def test_a_document_with_an_unresolvable_reference_forwards_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tinhso.exchange.policy import ServiceEntry  # noqa: PLC0415
    from tinhso.exchange.standard import Operations  # noqa: PLC0415

    broken = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "https://elsewhere/x.json"}}
                        }
                    }
                }
            }
        },
    }
    service = ServiceEntry(
        id=1, organisation="o", system="s", code="c", version="v1", base_url="http://x",
        timeout_ms=1000, max_request_bytes=1024, max_response_bytes=1024, request_schema=None,
        response_schema=None, classification="internal", status="published",  # type: ignore[arg-type]
        key="o/s/c/v1", openapi=broken,
    )  # fmt: skip
    operations = Operations([service], {}).get(1)
    assert operations is not None
    assert operations.match("POST", "/a") == (None, None)
    assert "o/s/c/v1" in caplog.text
