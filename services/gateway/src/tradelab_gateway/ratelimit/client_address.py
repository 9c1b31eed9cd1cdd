"""Which address a request comes from, given the proxies the operator trusts.

``X-Forwarded-For`` is written by each proxy appending the address it received the request from,
so only the entries to the right are trustworthy: everything left of the first hop outside the
trusted networks was written by the client itself and could be anything.
"""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
MAX_HOPS = 32
"""Forwarded hops looked at, right to left; a longer chain is a client's invention anyway."""


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address, networks: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """Return the client's address: the right-most forwarded hop outside the trusted networks.

    Parameters
    ----------
    peer
        The address of the direct TCP peer (None when unknown).
    forwarded_for
        Every ``X-Forwarded-For`` header value, in the order received.
    trusted
        The networks of the operator's proxies (empty: trust none, use the peer).

    Returns
    -------
    str
        The peer itself unless it is a trusted proxy. Otherwise the hops are walked right to
        left and the first one outside the trusted networks is the client; when every hop is
        trusted the left-most one is. A malformed hop stops the walk at the nearest trusted
        address (a proxy wrote it, so it cannot be blamed on the client).
    """
    if peer is None:
        return "unknown"
    current = _parse(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops[-MAX_HOPS:]):
        parsed = _parse(hop)
        if parsed is None:
            break
        current = parsed
        if not _trusted(current, trusted):
            break
    return str(current)
