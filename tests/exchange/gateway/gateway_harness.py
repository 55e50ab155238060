"""Real processes for gateway tests: a provider HTTP server, gateway subprocesses, a scenario.

- :class:`Provider`: a small HTTP/1.1 service in a thread (echoes what it received; special
  paths misbehave: ``/slow``, ``/reset``, ``/garbage``, ``/big``, and stream: ``/drip`` (a
  long answer in parts), ``/trickle`` (its last bytes one by one); how their answers ended is
  in ``Provider.answers``).
- :class:`GatewayProcess`: ``tinhso gateway`` started for real in a subprocess on a free port,
  on the test's database.
- ``gateway_world`` fixture: through the control-plane API, the provider registers
  ``so-yte/his/echo/v1`` pointing at the provider server, the consumer asks for access, the
  provider approves (GET/POST on ``/citizens/`` and ``/records/{id}``), a client secret is issued.

Import the fixtures into a test module: ``from tests.exchange.gateway.gateway_harness import *``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import TEST_SECRET, suite_settings
from tests.exchange.conftest import API, basic_auth, request_payload, service_payload
from tinhso.core.config import Settings
from tinhso.exchange.audit import proof as audit_proof

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine

    from tests.exchange.conftest import ExchangeWorld

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "so-yte/his/echo/v1"
SCHEMA = {
    "type": "object",
    "properties": {"ma_dinh_danh": {"type": "string", "pattern": "^[0-9]{12}$"}},
    "required": ["ma_dinh_danh"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- provider -------------------------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProviderServer

    def log_message(self, *_args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length) if length else b""
        self.server.seen.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        path = self.path.split("?", 1)[0]
        if path.endswith("/slow"):
            time.sleep(self.server.slow_seconds)
        if path.endswith("/reset"):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            self.connection.close()
            return
        if path.endswith("/garbage"):
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            self.close_connection = True
            return
        if path.endswith(("/drip", "/trickle")):
            self._stream(path.endswith("/drip"))
            return
        if path.endswith("/big"):
            data = b"x" * (2 * 1024 * 1024)
        else:
            data = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "body": body.decode("utf-8", "replace"),
                    "consumer": self.headers.get("x-tinhso-consumer"),
                }
            ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

    def _stream(self, drip: bool) -> None:
        """``/drip``: 200 parts of 64 KiB, 20 ms apart; ``/trickle``: 300 KB, then one byte
        every 200 ms for 20 s. Records ("whole" or "cut", parts or bytes written)."""
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        if drip:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(300_000 + 100))
        self.end_headers()
        written = 0
        try:
            if drip:
                part = b"d" * 65536
                for _ in range(200):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    written += 1
                    time.sleep(0.02)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(b"t" * 300_000)
                for _ in range(100):
                    time.sleep(0.2)
                    self.wfile.write(b"t")
                    written += 1
        except OSError:
            self.server.answers.append(("cut", written))
            self.close_connection = True
            return
        self.server.answers.append(("whole", written))


class _ProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]
    answers: list[tuple[str, int]]
    slow_seconds: float


class Provider:
    def __init__(self) -> None:
        self.server = _ProviderServer(("127.0.0.1", 0), _Handler)
        self.server.seen = []
        self.server.answers = []
        self.server.slow_seconds = 3.0
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    def start(self) -> Provider:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- gateway subprocesses -------------------------------------------------------------------------
@dataclass
class GatewayProcess:
    database_url: str
    data_dir: Path
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TINHSO_")}
        # The gateway runs in data_dir: a relative PYTHONPATH ("src") would name nothing there
        # and the installed package, not the code under test, would serve.
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(entry).resolve())
            for entry in env.get("PYTHONPATH", "").split(os.pathsep)
            if entry
        )
        env.update(
            {
                "TINHSO_ENVIRONMENT": "test",
                "TINHSO_DATABASE_URL": self.database_url,
                "TINHSO_DATA_DIR": str(self.data_dir),
                "TINHSO_SECRET_KEY": TEST_SECRET,
                "TINHSO_LOG_LEVEL": "WARNING",
                "TINHSO_GATEWAY_CHECKPOINT_SECONDS": "1",
                "TINHSO_GATEWAY_BREAKER_COOLDOWN_SECONDS": "1",
                # The test providers are on 127.0.0.1: the gateway checks where it connects.
                "TINHSO_EXCHANGE_ALLOW_LOOPBACK": "true",
            }
        )
        # This checkout's code, whatever the caller's PYTHONPATH (a relative "src" would
        # resolve in the gateway's own working directory and load another checkout's code).
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / f"gateway-{self.port}.log").open("wb") as log:
            self._spawn(log)
        return self._wait(timeout)

    def _spawn(self, log: Any) -> None:
        command = [sys.executable, "-m", "tinhso.cli", "gateway", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(
            command,
            cwd=self.data_dir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait(self, timeout: float) -> GatewayProcess:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log_text())
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gateway did not start\n" + self.log_text())

    def log_text(self) -> str:
        path = self.data_dir / f"gateway-{self.port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The suite's settings, with loopback providers allowed (the test provider is local)."""
    return suite_settings(database_url, tmp_path, exchange_allow_loopback=True)


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider().start()
    yield server
    server.stop()


@dataclass
class GatewayWorld:
    client: TestClient
    world: ExchangeWorld
    provider: Provider
    engine: Engine
    data_dir: Path
    database_url: str
    client_id: str
    client_secret: str
    grant_id: int
    gateways: list[GatewayProcess] = field(default_factory=list)

    def token(self, client_id: str | None = None, secret: str | None = None) -> str:
        response = self.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(client_id or self.client_id, secret or self.client_secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def gateway(self, workers: int = 1, **env: str) -> GatewayProcess:
        self.token()  # the platform's first signing key exists before the gateway loads
        process = GatewayProcess(
            self.database_url, self.data_dir / f"gw{len(self.gateways)}", workers, env
        )
        self.gateways.append(process)
        return process.start()

    def records(self) -> list[dict[str, Any]]:
        from sqlalchemy import select  # noqa: PLC0415

        from tinhso.exchange.models import AuditRecord  # noqa: PLC0415

        with self.engine.connect() as connection:
            rows = connection.execute(select(AuditRecord.__table__).order_by("seq"))
            return [dict(row._mapping) for row in rows]

    def add_service(
        self, code: str, base_url: str, grant: dict[str, Any] | None = None, **overrides: Any
    ) -> int:
        return register_echo_service(self.client, self.world, base_url, code, grant, **overrides)

    def verify(self) -> audit_proof.VerifyResult:
        return audit_proof.verify(self.engine)


def register_echo_service(
    client: TestClient,
    world: ExchangeWorld,
    base_url: str,
    code: str = "echo",
    grant: dict[str, Any] | None = None,
    **overrides: Any,
) -> int:
    """Register, publish, request and approve ``so-yte/his/<code>/v1``; returns the grant id."""
    response = client.post(
        f"{API}/services",
        json=service_payload(
            **{
                "code": code,
                "base_url": base_url,
                "request_schema": SCHEMA,
                "openapi": None,  # an echo: any path (tests/exchange/test_gateway_operations.py)
                **overrides,
            }
        ),
        headers=world.admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/services/so-yte/his/{code}/v1/status",
        json={"status": "published"},
        headers=world.admin.headers,
    )
    assert response.status_code == 200, response.text
    payload = request_payload()
    payload["service"]["code"] = code
    response = client.post(f"{API}/requests", json=payload, headers=world.consumer_officer.headers)
    assert response.status_code == 201, response.text
    response = client.post(
        f"{API}/requests/{response.json()['id']}/approve",
        json={
            "allowed_methods": ["GET", "POST"],
            "allowed_paths": ["/citizens/", "/records/{id}"],
            **(grant or {}),
        },
        headers=world.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def gateway_world(
    client: TestClient,
    exchange_world: ExchangeWorld,
    consumer_secret: tuple[str, str],
    provider: Provider,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> Iterator[GatewayWorld]:
    grant_id = register_echo_service(client, exchange_world, provider.url + "/api")
    scenario = GatewayWorld(
        client,
        exchange_world,
        provider,
        engine,
        tmp_path,
        database_url,
        consumer_secret[0],
        consumer_secret[1],
        grant_id,
    )
    yield scenario
    for process in scenario.gateways:
        process.stop()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    url: str,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> RawResponse:
    """Send ``target`` exactly as given (no URL normalisation, unlike most HTTP clients)."""
    import http.client  # noqa: PLC0415

    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None and "Transfer-Encoding" not in (headers or {}):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return RawResponse(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


# -- raw uploads and answers ----------------------------------------------------------------------
def start_upload(port: int, token: str, target: str, *, chunked: bool, declared: int = 100) -> Any:
    """A POST whose head is sent and whose body is not (yet): a socket to drip it on."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    framing = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % declared
    client.sendall(
        b"POST %s HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n"
        b"content-type: application/json\r\n%s\r\n\r\n" % (target.encode(), token.encode(), framing)
    )
    return client


class Drip(threading.Thread):
    """Sends a body one byte every ``every`` seconds: ``parts`` of them and then its end, or
    until the gateway stops taking them (``parts`` None)."""

    def __init__(
        self, client: socket.socket, *, chunked: bool, every: float = 1.0, parts: int | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.client, self.chunked, self.every, self.parts = client, chunked, every, parts
        self.stopped = threading.Event()

    def run(self) -> None:
        sent = 0
        try:
            while not self.stopped.is_set() and (self.parts is None or sent < self.parts):
                self.client.sendall(b"1\r\nx\r\n" if self.chunked else b"x")
                sent += 1
                self.stopped.wait(self.every)
            if self.parts is not None and self.chunked:
                self.client.sendall(b"0\r\n\r\n")
        except OSError:
            return


def read_answer(client: socket.socket, timeout: float) -> tuple[int, bytes]:
    """Status and body of one answer framed by content-length (a refusal or an echo)."""
    client.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        part = client.recv(65536)
        if not part:
            raise ConnectionError(f"closed before the answer: {data!r}")
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = client.recv(65536)
        if not part:
            break
        body += part
    return int(lines[0].split()[1]), body[:length]


def second_consumer(world: GatewayWorld, code: str) -> str:
    """An access token of another consumer, ubnd-khac/cong-dan, granted ``so-yte/his/<code>/v1``."""
    people = world.world
    response = world.client.post(
        "/api/v1/systems",
        json={
            "code": "cong-dan",
            "organisation_code": "ubnd-khac",
            "name_vi": "Cổng dịch vụ công",
            "is_consumer": True,
            "is_provider": False,
        },
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    response = world.client.post(
        f"{API}/systems/ubnd-khac/cong-dan/credentials",
        json={"kind": "client_secret", "label": "cong-dan"},
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    client_id, secret = response.json()["client_id"], response.json()["client_secret"]
    payload = request_payload(
        consumer={"organisation_code": "ubnd-khac", "system_code": "cong-dan"}
    )
    payload["service"]["code"] = code
    response = world.client.post(f"{API}/requests", json=payload, headers=people.outsider.headers)
    assert response.status_code == 201, response.text
    response = world.client.post(
        f"{API}/requests/{response.json()['id']}/approve",
        json={"allowed_methods": ["GET", "POST"], "allowed_paths": ["/citizens/"]},
        headers=people.provider_admin.headers,
    )
    assert response.status_code == 201, response.text
    return world.token(client_id, secret)
