"""Provider base URLs: SSRF attempts are refused, ordinary addresses pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tinhso.core.config import Settings
from tinhso.core.errors import InvalidInput
from tinhso.exchange.netpolicy import NetworkPolicy


def _policy(**overrides: object) -> NetworkPolicy:
    return NetworkPolicy.from_settings(Settings(environment="test", **overrides))  # type: ignore[arg-type]


def _fake_dns(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.10.1/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://localhost/",
        "http://localhost:8000/api",
        "file:///etc/passwd",
        "gopher://10.0.0.1/_stats",
        "ftp://10.0.0.1/",
        "http://user:pass@10.0.0.1/",
        "http://user@10.0.0.1/",
        "http://10.0.0.1/api?next=http://127.0.0.1",
        "http://10.0.0.1/api#frag",
        "http:///nohost",
        "http://10.0.0.1:99999/",
        "http://no-such-host.invalid/",
        # Control characters or whitespace in the path or query, raw or percent-encoded.
        "http://10.0.0.1/api\r\nX-Injected: 1",
        "http://10.0.0.1/a\nb",
        "http://10.0.0.1/a\tb",
        "http://10.0.0.1/a b",
        "http://10.0.0.1/a\x00b",
        "http://10.0.0.1/a\x7fb",
        "http://10.0.0.1/a\u00a0b",
        "http://10.0.0.1/a\u2028b",
        "http://10.0.0.1/a\u200bb",
        "http://10.0.0.1/a%0d%0aX-Injected:%201",
        "http://10.0.0.1/a%00b",
        "http://10.0.0.1/a%20b",
        "http://10.0.0.1/a%7Fb",
        "http://10.0.0.1/api?\r\n",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _policy().check_base_url(url)
    assert caught.value.errors[0].field == "base_url"
    assert caught.value.message.vi
    assert caught.value.message.en


def test_dns_name_resolving_to_loopback_or_metadata_is_refused() -> None:
    dns = _fake_dns(
        {
            "rebind.example": ["10.0.0.7", "127.0.0.1"],
            "metadata.example": ["169.254.169.254"],
            "v6.example": ["::1"],
        }
    )
    for host in ("rebind.example", "metadata.example", "v6.example"):
        with pytest.raises(InvalidInput):
            _policy().check_base_url(f"https://{host}/api", resolver=dns)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("  https://10.20.30.40/api/\n", "https://10.20.30.40/api"),  # around it: trimmed
        (
            "https://10.20.30.40/d%E1%BB%AF-li%E1%BB%87u",
            "https://10.20.30.40/d%E1%BB%AF-li%E1%BB%87u",
        ),
        ("https://10.20.30.40/api/", "https://10.20.30.40/api"),
        ("http://192.168.1.10:8080/v1", "http://192.168.1.10:8080/v1"),
        ("https://203.0.113.5", "https://203.0.113.5"),
        ("https://[2001:db8::5]/x", "https://[2001:db8::5]/x"),
    ],
)
def test_allowed(url: str, expected: str) -> None:
    assert _policy().check_base_url(url) == expected


def test_operator_switches() -> None:
    assert _policy(exchange_allow_loopback=True).check_base_url("http://127.0.0.1:9000/") == (
        "http://127.0.0.1:9000"
    )
    # Loopback allowance does not open metadata or link-local.
    with pytest.raises(InvalidInput):
        _policy(exchange_allow_loopback=True).check_base_url("http://169.254.169.254/")
    assert _policy(exchange_allow_link_local=True).address_allowed("169.254.10.1")
    assert not _policy(exchange_allow_link_local=True).address_allowed("169.254.169.254")
    # An allow-list of networks keeps everything else out.
    restricted = _policy(exchange_allowed_networks=["10.20.0.0/16"])
    assert restricted.check_base_url("https://10.20.30.40/api") == "https://10.20.30.40/api"
    with pytest.raises(InvalidInput):
        restricted.check_base_url("https://10.99.0.1/api")
    # Schemes are configurable: https only.
    with pytest.raises(InvalidInput):
        _policy(exchange_allowed_schemes=["https"]).check_base_url("http://10.0.0.1/")


def test_allowed_networks_are_validated_in_settings() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="test", exchange_allowed_networks=["not-a-network"])  # type: ignore[list-item]
