"""The client's address behind a proxy: ``X-Forwarded-For`` is believed only when the
peer that sent it is a proxy the shop named (``QUIETSHOP_TRUSTED_PROXIES``).

Anyone can send the header, so from any other peer it is ignored: the address is the
peer's. From a trusted proxy, the header is read from the right (each proxy appends the
address it saw) past every trusted hop; the first address that is not one is the client.
A malformed entry stops the walk there: what lies to its left was written by whoever
sent it, so the last trusted hop's address stands instead. The answer is always one
parsed address in its canonical text (or ``unknown``), so the header can never put
anything else into a log line or a rate limit's key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
MAX_HOPS = 20  # a longer chain is not a real proxy path; only its last hops are read


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies as networks ("10.0.0.5", "10.0.0.0/8", "fd00::/8");
    ValueError names the first that is not one."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {proxy!r}") from None
    return tuple(networks)


def parse_address(text: str) -> str | None:
    """One address as a proxy or a socket writes it ("203.0.113.7", "2001:db8::1",
    "[2001:db8::1]:443", "203.0.113.7:5100", "::ffff:203.0.113.7"), in canonical form;
    None for anything else."""
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: one client, one text.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    parsed = ipaddress.ip_address(address)
    return any(parsed.version == network.version and parsed in network for network in networks)


def client_address(peer: str | None, forwarded_for: str, proxies: tuple[str, ...]) -> str:
    """Who the request came from: the peer, or from a trusted proxy the client it names."""
    address = parse_address(peer) if peer else None
    if address is None:
        return UNKNOWN
    networks = trusted_networks(proxies)
    if not networks or not forwarded_for or not _trusted(address, networks):
        return address
    for hop in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
        parsed = parse_address(hop)
        if parsed is None:
            return address  # malformed: the last trusted hop is all that can be said
        address = parsed
        if not _trusted(parsed, networks):
            return parsed
    return address  # every hop a proxy of ours: the first of them
