"""The gateway end to end: real provider, real gateway process, a real OAuth2 client library."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import httpx
import uvicorn
from authlib.integrations.httpx_client import OAuth2Client

from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    free_port,
    gateway_world,
    provider,
    settings,
)

if TYPE_CHECKING:
    from fastapi import FastAPI


class _ControlPlane:
    """The control-plane app served for real (uvicorn in a thread) for the OAuth2 client."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _ControlPlane:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_end_to_end_with_authlib(gateway_world: GatewayWorld, app: FastAPI) -> None:  # noqa: F811
    world = gateway_world
    gateway = world.gateway()
    with _ControlPlane(app) as control:
        oauth = OAuth2Client(
            world.client_id,
            world.client_secret,
            token_endpoint_auth_method="client_secret_basic",
        )
        token = oauth.fetch_token(
            f"http://127.0.0.1:{control.port}/oauth/token", grant_type="client_credentials"
        )
        assert token["token_type"].lower() == "bearer"
        oauth.close()

    auth = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = http.get(f"/{SERVICE}/citizens/0123?x=1", headers={**auth, "Cookie": "a=b"})
        assert response.status_code == 200, response.text
        echoed = response.json()
        assert echoed["path"] == "/api/citizens/0123?x=1"
        assert echoed["consumer"] == "ubnd-viet-yen/mot-cua"
        request_id = response.headers["x-tinhso-request-id"]

        seen = world.provider.seen[-1]
        assert "authorization" not in seen.headers
        assert seen.headers["x-tinhso-request-id"] == request_id
        assert seen.headers["x-tinhso-grant"] == str(world.grant_id)

        body = json.dumps({"ma_dinh_danh": "001099012345"})
        response = http.post(
            f"/{SERVICE}/records/7",
            content=body,
            headers={**auth, "content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["body"] == body

        # Schema: refused before the provider is touched.
        calls = len(world.provider.seen)
        response = http.post(f"/{SERVICE}/records/7", json={"ma_dinh_danh": "abc"}, headers=auth)
        assert response.status_code == 400
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["code"] == "schema_invalid"
        assert problem["errors"][0]["field"] == "ma_dinh_danh"
        assert set(problem["message"]) == {"vi", "en"}
        assert len(world.provider.seen) == calls

        # A big response is streamed through.
        response = http.get(f"/{SERVICE}/citizens/big", headers=auth)
        assert response.status_code == 200
        assert len(response.content) == 2 * 1024 * 1024

    records = world.records()
    assert [r["status"] for r in records] == [200, 200, 400, 200]
    first = records[0]
    assert first["request_id"] == request_id
    assert first["consumer"] == "ubnd-viet-yen/mot-cua"
    assert first["service"] == SERVICE
    assert first["grant_id"] == world.grant_id
    assert first["path_template"] == "/citizens/"
    assert first["method"] == "GET"
    assert first["response_sha256"] and first["request_sha256"]
    assert records[1]["bytes_in"] == len(body)
    assert records[3]["bytes_out"] == 2 * 1024 * 1024
    result = world.verify()
    assert result.ok, result
    assert result.records == 4
