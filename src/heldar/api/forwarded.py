"""The client address of a request: the TCP peer, or X-Forwarded-For when a trusted proxy sent it.

`X-Forwarded-For` is written by whoever sends it, so it is believed only when the peer is one of
`HELDAR_TRUSTED_PROXIES`; then the client is the rightmost hop that is not itself a trusted proxy.
A malformed hop stops the walk (everything left of it may be forged).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The address to throttle and audit for a request from `peer`."""
    if peer is None or not forwarded_for or not _trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            return client
        if not _trusted(client, trusted):
            return client
    return client
