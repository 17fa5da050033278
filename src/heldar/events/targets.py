"""Webhook targets: URL rules and the outbound SSRF guard (SECURITY.md class 9).

A target URL is http(s) with a host and no credentials. Before every attempt its host is resolved
once; every address must pass `TargetPolicy` (no loopback, private, link-local, multicast or
reserved address, and none of the kernel's own, unless `HELDAR_WEBHOOK_ALLOW_PRIVATE` lists it;
link-local and cloud metadata addresses are refused even then), and the request then goes to that
vetted address — never resolved again — with the original name in `Host` and TLS SNI.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from heldar.errors import InvalidInput

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Metadata services that are not link-local: AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)


class TargetRefused(Exception):
    """The target resolves to an address the policy refuses (the message says which and why)."""


def validate_url(raw: str) -> str:
    """The URL if it is an acceptable webhook target, else `InvalidInput(invalid_webhook_url)`."""
    if any(ord(c) <= 32 or ord(c) == 127 for c in raw):
        raise InvalidInput(
            "webhook url must not contain spaces or control characters",
            code="invalid_webhook_url",
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput("webhook url is malformed", code="invalid_webhook_url") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("webhook url must be http:// or https://", code="invalid_webhook_url")
    if not parts.hostname:
        raise InvalidInput("webhook url has no host", code="invalid_webhook_url")
    if "@" in parts.netloc:
        raise InvalidInput(
            "credentials in a webhook url are refused; receivers verify the `secret` signature",
            code="invalid_webhook_url",
        )
    if port == 0:
        raise InvalidInput("webhook url has port 0", code="invalid_webhook_url")
    return raw


def _normalize(ip: IpAddress) -> IpAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=256)
def is_own_address(ip: IpAddress) -> bool:
    """True when this host has `ip` on an interface (it can bind it) or it is a wildcard."""
    if ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses a webhook may reach. `allow`: HELDAR_WEBHOOK_ALLOW_PRIVATE."""

    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, entries: Sequence[str]) -> TargetPolicy:
        return cls(tuple(ipaddress.ip_network(e, strict=False) for e in entries))

    def refusal(self, address: IpAddress) -> str | None:
        """Why `address` is refused, or None when it may be reached."""
        ip = _normalize(address)
        if ip.is_link_local or ip in METADATA_ADDRESSES:
            return "a link-local or cloud metadata address (never allowed)"
        if ip.is_multicast or ip.is_unspecified:
            return "a multicast or unspecified address"
        if any(ip.version == net.version and ip in net for net in self.allow):
            return None
        if ip.is_loopback:
            return "a loopback address"
        if is_own_address(ip):
            return "one of the kernel's own addresses"
        if not ip.is_global:
            return "a private or reserved address"
        return None


@dataclass(frozen=True)
class Vetted:
    """A target resolved once and vetted: connect to `address`, say `host` in Host and SNI."""

    url: SplitResult
    address: IpAddress

    @property
    def host(self) -> str:
        assert self.url.hostname is not None
        return self.url.hostname

    @property
    def host_header(self) -> str:
        return self.url.netloc

    @property
    def connect_url(self) -> str:
        """The URL with the vetted address in place of the name."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        port = self.url.port
        netloc = f"{literal}:{port}" if port is not None else literal
        return urlunsplit((self.url.scheme, netloc, self.url.path or "/", self.url.query, ""))


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IpAddress, None] = {}
    for info in infos:
        seen[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None
    return list(seen)


async def vet(url: str, policy: TargetPolicy) -> Vetted:
    """Resolve `url`'s host once and vet every address; `TargetRefused` or `OSError` if not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not addresses:
        raise OSError(f"{host} has no address")
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            raise TargetRefused(f"{host} resolves to {address}, {reason}")
    return Vetted(parts, addresses[0])
