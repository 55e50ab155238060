"""Which provider base URLs may be registered, so the gateway cannot be aimed at the platform
itself, cloud metadata or other places it should never reach (SSRF).

A base URL must use an allowed scheme (``settings.exchange_allowed_schemes``), carry no
credentials, query or fragment, and its host must resolve only to addresses that are allowed:
never unspecified, multicast, broadcast or reserved; loopback and link-local (including the
metadata address 169.254.169.254) only when the operator allows them
(``exchange_allow_loopback`` / ``exchange_allow_link_local``); and, when
``exchange_allowed_networks`` is set, only inside those networks. IPv4 addresses embedded in
IPv6 (mapped, compatible, 6to4, NAT64) are judged as the IPv4 address they carry.

The gateway should call :meth:`NetworkPolicy.address_allowed` again on the address it actually
connects to (DNS answers can change after registration).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from tinhso.core.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tinhso.core.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ALWAYS_REFUSED = (
    ipaddress.ip_network("0.0.0.0/8"),  # "this network"
    ipaddress.ip_network("255.255.255.255/32"),
)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    return None


@dataclass(frozen=True)
class NetworkPolicy:
    schemes: frozenset[str]
    networks: tuple[IPNetwork, ...]
    allow_loopback: bool
    allow_link_local: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> NetworkPolicy:
        return cls(
            schemes=frozenset(scheme.lower() for scheme in settings.exchange_allowed_schemes),
            networks=tuple(
                ipaddress.ip_network(str(cidr), strict=False)
                for cidr in settings.exchange_allowed_networks
            ),
            allow_loopback=settings.exchange_allow_loopback,
            allow_link_local=settings.exchange_allow_link_local,
        )

    def refusal(self, address: IPAddress) -> str | None:  # noqa: PLR0911 - one reason per case
        """Why the address is refused (English, for messages), or None when it is allowed."""
        if isinstance(address, ipaddress.IPv6Address):
            if address.scope_id:
                address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                return self.refusal(embedded)
        explicitly_listed = any(address in network for network in self.networks)
        if address.is_unspecified or any(address in net for net in _ALWAYS_REFUSED):
            return "unspecified address"
        if address.is_multicast:
            return "multicast address"
        if address.is_loopback and not self.allow_loopback:
            return "loopback address"
        if any(address in net for net in _METADATA) and not explicitly_listed:
            return "cloud metadata address"
        if address.is_link_local and not self.allow_link_local:
            return "link-local address"
        if (
            address.is_reserved
            and not address.is_loopback
            and not address.is_link_local
            and not explicitly_listed
        ):
            return "reserved address"
        if (
            self.networks
            and not explicitly_listed
            and not (address.is_loopback and self.allow_loopback)
        ):
            return "outside the allowed networks"
        return None

    def address_allowed(self, address: str | IPAddress) -> bool:
        try:
            parsed = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        return self.refusal(parsed) is None

    def check_base_url(
        self,
        url: str,
        field: str = "base_url",
        resolver: Callable[[str, int], Sequence[str]] = _resolve,
    ) -> str:
        """Return the normalised base URL (no trailing slash) or raise InvalidInput naming field."""

        def refuse(vi: str, en: str) -> InvalidInput:
            return InvalidInput(
                f"Địa chỉ dịch vụ không được phép: {vi}",
                f"The service base URL is not allowed: {en}",
                field=field,
            )

        try:
            parts: SplitResult = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            raise refuse("URL không hợp lệ", "malformed URL") from error
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            raise refuse(
                f"giao thức '{scheme or '-'}' không được phép",
                f"scheme '{scheme or '-'}' is not allowed",
            )
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise refuse(
                "không được chứa thông tin đăng nhập trong URL",
                "credentials in the URL are not allowed",
            )
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise refuse(
                "không được có tham số truy vấn hoặc phân đoạn",
                "a query or fragment is not allowed",
            )
        host = parts.hostname
        if not host:
            raise refuse("thiếu tên máy chủ", "the host is missing")
        if any(ch.isspace() or ch in "\\%" for ch in parts.netloc):
            raise refuse("tên máy chủ không hợp lệ", "invalid host")
        if port is None:
            port = 443 if scheme == "https" else 80
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as error:
            raise refuse(
                f"không phân giải được tên máy chủ {host}", f"cannot resolve host {host}"
            ) from error
        if not addresses:
            raise refuse(f"không phân giải được tên máy chủ {host}", f"cannot resolve host {host}")
        for address in addresses:
            try:
                parsed = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError as error:
                raise refuse("địa chỉ IP không hợp lệ", "invalid IP address") from error
            reason = self.refusal(parsed)
            if reason is not None:
                raise refuse(
                    f"{host} trỏ tới địa chỉ bị cấm ({parsed})",
                    f"{host} resolves to a refused {reason} ({parsed})",
                )
        path = parts.path.rstrip("/")
        return f"{scheme}://{parts.netloc}{path}"
