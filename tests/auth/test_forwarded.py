"""Client addresses: X-Forwarded-For counts only when a trusted proxy sent it."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from heldar.api.forwarded import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "::1"])
ips = st.ip_addresses(v=4).map(str)


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"
    assert client_address("203.0.113.9", None, ()) == "203.0.113.9"
    assert client_address(None, "1.2.3.4", PROXIES) is None


def test_trusted_proxy_chain_gives_the_rightmost_untrusted_hop() -> None:
    assert client_address("10.0.0.2", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", PROXIES) == "198.51.100.7"
    assert client_address("::1", "2001:db8::5", PROXIES) == "2001:db8::5"
    # only proxies all the way: the leftmost hop is the best we know
    assert client_address("10.0.0.2", "10.0.0.9", PROXIES) == "10.0.0.9"
    # garbage stops the walk at the last hop we could trust
    assert client_address("10.0.0.2", "evil, not-an-ip", PROXIES) == "10.0.0.2"


@given(peer=ips, hops=st.lists(ips, max_size=6))
def test_forged_hops_left_of_an_untrusted_one_never_win(peer: str, hops: list[str]) -> None:
    header = ", ".join(hops) if hops else None
    result = client_address(peer, header, PROXIES)
    assert result is not None
    trusted = [any(ipaddress.ip_address(h) in n for n in PROXIES) for h in [*hops, peer]]
    if not trusted[-1]:
        assert result == peer
        return
    # the answer is the first untrusted address walking right to left, never one left of it
    chain = [*hops, peer]
    for address, is_trusted in zip(reversed(chain), reversed(trusted), strict=True):
        if not is_trusted:
            assert result == address
            return
    assert result == chain[0]
