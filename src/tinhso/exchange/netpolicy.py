"""Which provider base URLs may be registered, so the gateway cannot be aimed at the platform
itself, cloud metadata or other places it should never reach (SSRF).

A base URL must use an allowed scheme (``settings.exchange_allowed_schemes``), carry no
credentials, query or fragment, and its host must resolve only to addresses that are allowed:
never unspecified, multicast, broadcast or reserved; loopback and link-local (including the
metadata address 169.254.169.254) only when the operator allows them
(``exchange_allow_loopback`` / ``exchange_allow_link_local``); and, when
``exchange_allowed_networks`` is set, only inside those networks. IPv4 addresses embedded in
IPv6 (mapped, compatible, 6to4, NAT64) are judged as the IPv4 address they carry. The URL may
hold no control character or whitespace, raw or percent-encoded (``urlsplit`` silently drops
tab, CR and LF, so they are looked for in the URL as given).

DNS answers can change after registration (DNS rebinding): the gateway connects through a
:class:`Destination`, which resolves the host itself, refuses the connection when any address
is refused, and pins the checked addresses: the connection is made to one of them, never to the
name, and they are kept ``ttl`` seconds per provider pool before the name is resolved and
checked again. :data:`resolver` is the hook every resolution goes through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from tinhso.core.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

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


# Percent-encoded control characters, space and DEL (%00-%20, %7F).
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-f]|20|7f)", re.IGNORECASE)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _resolve_async(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _unsafe_character(url: str) -> bool:
    """A control character or whitespace (any Unicode one, and invisible format characters)."""
    return any(
        ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Zs") for ch in url
    ) or bool(_ENCODED_CONTROL.search(url))


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

    def check_base_url(  # noqa: PLR0912 - one refusal per case
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

        url = url.strip()
        if _unsafe_character(url):
            raise refuse(
                "có ký tự điều khiển hoặc khoảng trắng", "control characters or whitespace"
            )
        try:
            parts: SplitResult = urlsplit(url)
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


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


class AddressRefused(Exception):
    """The provider's host resolves to an address the policy refuses (the message says which)."""


class Destination:
    """The addresses one provider host is connected to, as the gateway checks them.

    The gateway resolves the name itself (``resolve``; the system resolver by default), refuses
    the host when any of its addresses is refused by ``policy`` (a name answering both a public
    and a loopback address is a rebinding attempt), and keeps the checked addresses ``ttl``
    seconds: connections go to these addresses, never to the name, so what was checked is what
    is connected to. One lookup at a time per destination; a refusal is kept as long as an
    answer. An IP literal is checked once.
    """

    __slots__ = (
        "_addresses", "_expires", "_lookup", "_refusal", "_resolve", "host", "policy", "port",
        "ttl",
    )  # fmt: skip

    def __init__(
        self,
        host: str,
        port: int,
        policy: NetworkPolicy,
        ttl: float = 30.0,
        resolve: Callable[[str, int], Awaitable[Sequence[str]]] | None = None,
    ) -> None:
        self.host, self.port, self.policy, self.ttl = host, port, policy, ttl
        self._resolve = resolve or _resolve_async
        self._addresses: tuple[str, ...] = ()
        self._refusal: str | None = None
        self._expires = 0.0
        self._lookup: asyncio.Task[None] | None = None

    async def addresses(self) -> tuple[str, ...]:
        """The checked addresses to connect to; :class:`AddressRefused` or ``OSError`` if none."""
        if time.monotonic() >= self._expires:
            lookup = self._lookup
            if lookup is None:
                lookup = self._lookup = asyncio.get_running_loop().create_task(self._refresh())
                lookup.add_done_callback(_retrieve)  # no "never retrieved" if every caller left
            await asyncio.shield(lookup)  # a caller's timeout does not cancel the shared lookup
        if self._refusal is not None:
            raise AddressRefused(self._refusal)
        return self._addresses

    async def _refresh(self) -> None:
        try:
            try:
                literal: IPAddress | None = ipaddress.ip_address(self.host)
            except ValueError:
                literal = None
            if literal is not None:
                found: list[str] = [self.host]
                expires = float("inf")
            else:
                try:
                    found = list(await self._resolve(self.host, self.port))
                except UnicodeError as error:
                    raise OSError(f"cannot resolve {self.host}: {error}") from error
                expires = time.monotonic() + self.ttl
            self._refusal = self._judge(found)
            self._addresses = tuple(dict.fromkeys(found)) if self._refusal is None else ()
            self._expires = expires
        finally:
            self._lookup = None

    def _judge(self, found: Sequence[str]) -> str | None:
        if not found:
            return f"{self.host} resolves to no address"
        for address in found:
            try:
                parsed = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                return f"{self.host} resolves to an invalid address ({address})"
            reason = self.policy.refusal(parsed)
            if reason is not None:
                return f"{self.host} resolves to a refused {reason} ({parsed})"
        return None
