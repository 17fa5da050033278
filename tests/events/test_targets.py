"""Webhook target rules and the SSRF guard (SECURITY.md class 9)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.errors import InvalidInput
from heldar.events.targets import TargetPolicy, TargetRefused, validate_url, vet

EVERYTHING = TargetPolicy.of(["0.0.0.0/0", "::/0"])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http:///nohost",
        "https://user:pw@example.com/hook",
        "https://example.com/ho ok",
        "https://example.com/\r\nX-Injected: 1",
        "http://example.com:99999/",
        "http://example.com:0/",
        "gopher://example.com",
    ],
)
def test_bad_urls_are_refused_with_a_code(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_url(url)
    assert refused.value.code == "invalid_webhook_url"
    assert "pw" not in refused.value.detail


def test_good_urls_pass_unchanged() -> None:
    for url in ("https://hooks.example.com/a/b?token=x", "http://[2001:db8::1]:8080/"):
        assert validate_url(url) == url


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fc00::5", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_default_policy_refuses_internal_addresses(address: str, reason: str) -> None:
    refusal = TargetPolicy().refusal(ipaddress.ip_address(address))
    assert refusal is not None and reason in refusal


def test_public_addresses_pass() -> None:
    for address in ("93.184.216.34", "2606:4700::1111"):
        assert TargetPolicy().refusal(ipaddress.ip_address(address)) is None


def test_allowlist_opens_private_networks_but_never_link_local_or_metadata() -> None:
    policy = TargetPolicy.of(["127.0.0.1/32", "10.0.0.0/8", "169.254.0.0/16", "fd00::/8"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) is not None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is not None
    assert policy.refusal(ipaddress.ip_address("fd00:ec2::254")) is not None


@given(st.ip_addresses(network="169.254.0.0/16") | st.ip_addresses(network="fe80::/10"))
def test_link_local_is_refused_whatever_the_allowlist(address: ipaddress._BaseAddress) -> None:
    assert EVERYTHING.refusal(address) is not None  # type: ignore[arg-type]


@given(st.ip_addresses(v=4, network="127.0.0.0/8"))
def test_loopback_is_refused_unless_listed(address: ipaddress.IPv4Address) -> None:
    assert TargetPolicy().refusal(address) is not None
    assert TargetPolicy.of([f"{address}/32"]).refusal(address) is None


async def test_vet_resolves_names_and_refuses_any_internal_answer() -> None:
    with pytest.raises(TargetRefused, match="loopback"):
        await vet("http://localhost:8080/hook", TargetPolicy())
    vetted = await vet(
        "http://localhost:8080/hook?x=1", TargetPolicy.of(["127.0.0.0/8", "::1/128"])
    )
    assert vetted.address.is_loopback
    assert vetted.host_header == "localhost:8080"
    assert vetted.connect_url.endswith(":8080/hook?x=1")
    assert "localhost" not in vetted.connect_url  # the request goes to the vetted address


async def test_the_kernels_own_address_is_refused() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outbound address
        except OSError:
            pytest.skip("no IPv4 route on this machine")
        own = ipaddress.ip_address(probe.getsockname()[0])
    if own.is_loopback:
        pytest.skip("only a loopback address here")
    refusal = TargetPolicy().refusal(own)
    assert refusal is not None
