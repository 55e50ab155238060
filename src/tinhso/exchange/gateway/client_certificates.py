"""Mutual TLS: a consumer system identified by its client certificate instead of a token.

TLS is terminated in front of the gateway (nginx, HAProxy, a load balancer) which verifies the
client certificate against the province's CA and passes it on in a request header; nginx:
``ssl_verify_client on; proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;``.
The gateway believes that header only from the networks in ``TINHSO_GATEWAY_TRUSTED_PROXIES``
(none by default: the path is off) and never forwards it to a provider. The SHA-256
fingerprint of the certificate (of its DER form) names the system through the ``mtls``
credential registered for it (``ExchangeSnapshot.certificates``); revoking that credential
stops the certificate on every gateway like any other registry change. A request that carries
both a token and a certificate must name the same system with both.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from cryptography import x509
from cryptography.hazmat.primitives import hashes

if TYPE_CHECKING:
    from collections.abc import Sequence

_CACHE_MAX = 4096


class ClientCertificates:
    """Which peers may vouch for a client certificate, and the fingerprints of certificates."""

    def __init__(self, trusted_proxies: Sequence[str], header: str) -> None:
        self.networks = [ipaddress.ip_network(net, strict=False) for net in trusted_proxies]
        self.header = header.strip().lower().encode("latin-1")
        self._peers: dict[str, bool] = {}
        self._fingerprints: dict[bytes, str] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.networks)

    def trusts(self, client: Sequence[object] | None) -> bool:
        """Whether the direct peer (``scope["client"]``) is a TLS terminator we believe."""
        if not self.networks or not client:
            return False
        host = str(client[0])
        trusted = self._peers.get(host)
        if trusted is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                trusted = False
            else:
                trusted = any(address in network for network in self.networks)
            if len(self._peers) >= _CACHE_MAX:
                self._peers.clear()
            self._peers[host] = trusted
        return trusted

    def fingerprint(self, value: bytes) -> str:
        """SHA-256 (lower-case hex) of the certificate in ``value``: PEM, URL-escaped or not.

        Raises ``ValueError`` if ``value`` holds no certificate.
        """
        known = self._fingerprints.get(value)
        if known is not None:
            return known
        pem = unquote_to_bytes(value) if b"%" in value else value
        certificate = x509.load_pem_x509_certificate(pem.strip())
        digest = certificate.fingerprint(hashes.SHA256()).hex()
        if len(self._fingerprints) >= _CACHE_MAX:
            self._fingerprints.clear()
        self._fingerprints[value] = digest
        return digest
