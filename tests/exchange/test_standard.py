"""Request-body schemas as the gateway compiles them: errors name the field, a remote ``$ref`` is
never fetched (neither at registration nor by the gateway), and one unusable schema refuses
its own service's bodies without breaking the others'."""

from __future__ import annotations

import http.server
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from tests.exchange.conftest import API, service_payload
from tinhso.exchange.models import ExchangeService, ServiceStatus
from tinhso.exchange.policy import ServiceEntry
from tinhso.exchange.standard import BodySchema, Validators, validate_body

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.exchange.conftest import ExchangeWorld

CITIZEN = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["so_cccd", "ho_ten"],
    "properties": {
        "so_cccd": {"type": "string", "pattern": "^[0-9]{12}$"},
        "ho_ten": {"type": "string", "minLength": 1},
        "dia_chi": {"$ref": "#/$defs/address"},
    },
    "$defs": {
        "address": {
            "type": "object",
            "required": ["ma_xa"],
            "properties": {"ma_xa": {"type": "string", "pattern": "^[0-9]{5}$"}},
        }
    },
}


class SchemaHost:
    """A real HTTP server that would serve a schema; counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = json.dumps({"type": "object"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/schema+json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/schema.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def schema_host() -> Iterator[SchemaHost]:
    host = SchemaHost()
    yield host
    host.close()


def _entry(service_id: int, schema: dict[str, Any]) -> ServiceEntry:
    return ServiceEntry(
        id=service_id,
        organisation="so-yte",
        system="his",
        code=f"dich-vu-{service_id}",
        version="v1",
        base_url="https://10.20.30.40/api",
        timeout_ms=5000,
        max_request_bytes=1 << 20,
        max_response_bytes=1 << 20,
        request_schema=schema,
        response_schema=None,
        classification="internal",
        status=ServiceStatus.PUBLISHED,
        key=f"so-yte/his/dich-vu-{service_id}/v1",
    )


def test_errors_name_each_field() -> None:
    schema = BodySchema(CITIZEN)
    good = {"so_cccd": "024090001234", "ho_ten": "Nguyễn Văn A", "dia_chi": {"ma_xa": "07777"}}
    assert validate_body(schema, json.dumps(good).encode()) == []
    bad = {"so_cccd": "12", "dia_chi": {"ma_xa": "x"}}
    errors = validate_body(schema, json.dumps(bad).encode())
    assert sorted(error.field for error in errors) == ["", "dia_chi.ma_xa", "so_cccd"]
    assert any("ho_ten" in error.message for error in errors if error.field == "")
    invalid_json = validate_body(schema, b"{not json")
    assert [error.field for error in invalid_json] == [""]
    assert invalid_json[0].message.startswith("invalid JSON")


def test_formats_are_annotations_as_in_jsonschema() -> None:
    schema = BodySchema({"type": "string", "format": "date"})
    assert schema.is_valid("not a date")  # jsonschema's default: formats do not assert


def test_the_gateway_never_fetches_a_remote_reference(schema_host: SchemaHost) -> None:
    remote = {"type": "object", "properties": {"x": {"$ref": schema_host.url}}}
    validators = Validators([_entry(1, remote), _entry(2, CITIZEN)])
    refused = validators.get(1)
    assert refused is not None
    errors = validate_body(refused, b'{"x": {}}')
    assert len(errors) == 1
    assert "cannot be used" in errors[0].message
    assert schema_host.hits == []
    # The other service of the same snapshot validates as usual.
    citizen = validators.get(2)
    assert citizen is not None
    assert validate_body(citizen, b'{"so_cccd": "024090001234", "ho_ten": "B"}') == []


def test_registration_refuses_a_remote_reference(
    client: TestClient, exchange_world: ExchangeWorld, session: Session, schema_host: SchemaHost
) -> None:
    payload = service_payload(
        request_schema={"type": "object", "properties": {"x": {"$ref": schema_host.url}}}
    )
    before = session.query(ExchangeService).count()
    response = client.post(f"{API}/services", json=payload, headers=exchange_world.admin.headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == "request_schema"
    assert "$ref" in problem["message"]["vi"]
    assert schema_host.hits == []
    assert session.query(ExchangeService).count() == before  # nothing written
