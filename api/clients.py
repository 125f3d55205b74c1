"""Who is asking: the client address every limit and the admin check use, with proxies trusted only by setting.

By default only the socket's peer address counts and forwarding headers are ignored, so nobody can pick a new
rate-limit bucket per request by sending ``X-Forwarded-For``. Behind a reverse proxy an operator lists the
proxy's addresses in ``WEGWEISER_TRUSTED_PROXIES``; then, for requests from those addresses, the client is the
nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy (read from the right: the proxy
appends the address it saw, whatever a client put on the left).

A request that carries forwarding headers from a peer that is *not* trusted has come through a proxy nobody
declared: it is marked (``scope["state"]["forwarded_by_untrusted_peer"]``) so that the admin endpoint refuses
it even when that proxy runs on this machine, and a warning names the setting once.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence

from api.middleware import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.0/8``) as networks.

    :raises ValueError: naming the entry that is neither.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {value!r}") from exc
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def resolve_client(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address.

    :param peer: the socket's peer address.
    :param forwarded_for: the ``X-Forwarded-For`` header (all of its lines joined by commas), if any.
    :param trusted: the networks of trusted proxies.
    :returns: ``peer`` unless it is a trusted proxy that named the client.
    """

    def is_trusted(value: str) -> bool:
        address = _address(value)
        return address is not None and any(address in network for network in trusted)

    if not trusted or not forwarded_for or not is_trusted(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            # A proxy that writes garbage is not trusted to have named anyone: count the proxy itself.
            return str(_address(hop)) if _address(hop) is not None else peer
    return hops[0] if hops else peer  # every hop is a trusted proxy: the first one is the client


class ClientAddressMiddleware:
    """Sets ``scope["client"]`` to the resolved client address (see the module docstring)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer, port = scope.get("client") or ("unknown", 0)
            forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
            client = resolve_client(peer, ",".join(forwarded) or None, self.trusted)
            if client != peer:
                scope["client"] = (client, 0)
            elif any(name in FORWARDING_HEADERS for name, _ in scope["headers"]) and not self._from_trusted(peer):
                scope.setdefault("state", {})["forwarded_by_untrusted_peer"] = True
                if not self._warned:
                    self._warned = True
                    logger.warning("a request carried forwarding headers from a proxy that is not trusted; if a "
                                   "reverse proxy serves this app, list it in WEGWEISER_TRUSTED_PROXIES")
        await self.app(scope, receive, send)

    def _from_trusted(self, peer: str) -> bool:
        address = _address(peer)
        return address is not None and any(address in network for network in self.trusted)
