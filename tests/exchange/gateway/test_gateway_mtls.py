"""Mutual TLS: a real nginx terminates TLS, verifies client certificates against the test CA and
passes them to a real gateway process, which identifies the consumer system by the certificate
fingerprint bound to its ``mtls`` credential (no token)."""

# ruff: noqa: F811 - pytest fixtures imported from the harness are parameters here

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.exchange.conftest import API
from tests.exchange.gateway.gateway_harness import (  # noqa: F401 - fixtures
    SERVICE,
    GatewayWorld,
    free_port,
    gateway_world,
    provider,
    raw_request,
    settings,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CREDENTIALS = f"{API}/systems/ubnd-viet-yen/mot-cua/credentials"
CONSUMER = "ubnd-viet-yen/mot-cua"
PROMISE_SECONDS = 2.0
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Pki:
    """A CA, nginx's server certificate and two client certificates, as PEM files."""

    directory: Path
    known_fingerprint: str  # of client.pem (bound to the consumer in the tests)

    def file(self, name: str) -> str:
        return str(self.directory / name)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, *parts: bytes) -> None:
    (directory / name).write_bytes(b"".join(parts))
    (directory / name).chmod(0o600)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    ca_key = _key()
    ca = _certificate("CA Sở TT&TT (thử nghiệm)", ca_key, ca=True)
    pem = serialization.Encoding.PEM
    private = {
        "encoding": pem,
        "format": serialization.PrivateFormat.PKCS8,
        "encryption_algorithm": serialization.NoEncryption(),
    }
    _write(directory, "ca.pem", ca.public_bytes(pem))
    for name, subject, server in (
        ("server", "127.0.0.1", True),
        ("client", "mot-cua.ubnd-viet-yen", False),
        ("stranger", "unregistered-system", False),
    ):
        key = _key()
        cert = _certificate(subject, key, (ca.subject, ca_key), server=server)
        _write(directory, f"{name}.pem", cert.public_bytes(pem))
        _write(directory, f"{name}.key", key.private_bytes(**private))  # type: ignore[arg-type]
        if name == "client":
            known = cert.fingerprint(hashes.SHA256()).hex()
    return Pki(directory, known)


@dataclass
class TlsFront:
    port: int
    pki: Pki

    def request(
        self, target: str, certificate: str | None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        context = ssl.create_default_context(cafile=self.pki.file("ca.pem"))
        if certificate is not None:
            context.load_cert_chain(
                self.pki.file(f"{certificate}.pem"), self.pki.file(f"{certificate}.key")
            )
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context)
        try:
            connection.request("GET", target, headers=headers or {})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()


@pytest.fixture
def tls_front(pki: Pki, tmp_path: Path, gateway_world: GatewayWorld) -> Iterator[TlsFront]:
    """nginx verifying client certificates in front of a gateway that trusts loopback."""
    gateway = gateway_world.gateway(TINHSO_GATEWAY_TRUSTED_PROXIES='["127.0.0.1/32"]')
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    temp = " ".join(
        f"{kind}_temp_path {prefix};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {prefix}/nginx.pid; error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off; {temp}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {pki.file("server.pem")}; ssl_certificate_key {pki.file("server.key")};
    ssl_client_certificate {pki.file("ca.pem")}; ssl_verify_client optional;
    location / {{
      proxy_pass http://127.0.0.1:{gateway.port};
      proxy_http_version 1.1;
      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    }}
  }}
}}
""")
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "e.log")],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    front = TlsFront(port, pki)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                front.request("/healthz", None)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield front
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _bind(gateway_world: GatewayWorld, fingerprint: str) -> str:
    response = gateway_world.client.post(
        CREDENTIALS,
        json={"kind": "mtls", "certificate_sha256": fingerprint, "label": "chứng thư máy chủ"},
        headers=gateway_world.world.consumer_admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["client_id"])


def test_a_bound_certificate_identifies_the_consumer_without_a_token(
    gateway_world: GatewayWorld, tls_front: TlsFront, pki: Pki
) -> None:
    _bind(gateway_world, pki.known_fingerprint)
    deadline = time.monotonic() + PROMISE_SECONDS
    while True:  # the gateway learns of the new credential within the platform's promise
        status, headers, body = tls_front.request(f"/{SERVICE}/citizens/7", "client")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200, body
    seen = gateway_world.provider.seen[-1]
    assert seen.headers["x-tinhso-consumer"] == CONSUMER
    assert "x-ssl-client-cert" not in seen.headers  # never forwarded to the provider
    assert gateway_world.records()[-1]["consumer"] == CONSUMER
    assert headers["x-tinhso-request-id"] == gateway_world.records()[-1]["request_id"]


def test_unknown_or_missing_certificates_are_refused_and_audited(
    gateway_world: GatewayWorld, tls_front: TlsFront, pki: Pki
) -> None:
    _bind(gateway_world, pki.known_fingerprint)
    status, _, body = tls_front.request(f"/{SERVICE}/citizens/7", "stranger")
    assert status == 401
    assert json.loads(body)["code"] == "certificate_unknown"
    status, _, body = tls_front.request(f"/{SERVICE}/citizens/7", None)
    assert status == 401
    assert json.loads(body)["code"] == "token_missing"
    outcomes = [record["outcome"] for record in gateway_world.records()]
    assert outcomes[-2:] == ["certificate_unknown", "token_missing"]
    assert not gateway_world.provider.seen


def test_a_token_and_a_certificate_must_name_the_same_system(
    gateway_world: GatewayWorld, tls_front: TlsFront, pki: Pki
) -> None:
    token = gateway_world.token()
    auth = {"Authorization": f"Bearer {token}"}
    # Not bound to any system yet: a token with a certificate of nobody is refused.
    status, _, body = tls_front.request(f"/{SERVICE}/citizens/7", "client", auth)
    assert status == 401
    assert json.loads(body)["code"] == "certificate_unknown"
    _bind(gateway_world, pki.known_fingerprint)
    deadline = time.monotonic() + PROMISE_SECONDS
    while True:
        status, _, body = tls_front.request(f"/{SERVICE}/citizens/7", "client", auth)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200, body


def test_revoking_the_credential_stops_the_certificate(
    gateway_world: GatewayWorld, tls_front: TlsFront, pki: Pki
) -> None:
    credential = _bind(gateway_world, pki.known_fingerprint)
    deadline = time.monotonic() + PROMISE_SECONDS
    while tls_front.request(f"/{SERVICE}/citizens/7", "client")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    response = gateway_world.client.post(
        f"{API}/credentials/{credential}/revoke",
        headers=gateway_world.world.consumer_admin.headers,
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + PROMISE_SECONDS
    while tls_front.request(f"/{SERVICE}/citizens/7", "client")[0] != 401:
        assert time.monotonic() < deadline, "the revoked certificate still works after 2 s"
        time.sleep(0.1)


def test_the_certificate_header_is_ignored_from_untrusted_peers(
    gateway_world: GatewayWorld, pki: Pki
) -> None:
    _bind(gateway_world, pki.known_fingerprint)
    # This gateway believes only a terminator on 10.0.0.0/8; the test talks to it from loopback.
    gateway = gateway_world.gateway(TINHSO_GATEWAY_TRUSTED_PROXIES='["10.0.0.0/8"]')
    forged = (pki.directory / "client.pem").read_text().replace("\n", "%0A")
    response = raw_request(
        gateway.url, "GET", f"/{SERVICE}/citizens/7", {"X-SSL-Client-Cert": forged}
    )
    assert response.status == 401
    assert response.json()["code"] == "token_missing"
    assert not gateway_world.provider.seen
