"""Who the client is, and over what scheme it came, behind trusted proxies.

A TCP peer listed in `http.trusted_proxies` is believed about the client it
forwards: the client is the rightmost `X-Forwarded-For` entry that is not
itself a trusted proxy (entries further left were written by whoever the
proxy talked to, and can say anything), and the scheme is the proxy's
`X-Forwarded-Proto`. From any other peer both headers are ignored. The
result replaces the ASGI scope's `client` and `scheme`, so that everything
downstream — per-IP limits, the access log, HSTS — sees the same answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Networks = Sequence[IPv4Network | IPv6Network]

UNKNOWN_PEER = "unknown"
"""Shared by every caller whose address is not an IP address (a Unix socket)."""


def _in(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Networks) -> bool:
    return any(address in network for network in networks)


def forwarded_client(peer: str, forwarded_for: Sequence[str], proxies: Networks) -> str:
    """The client's address as a string. Anything malformed falls back to the
    peer: a header cannot make us believe less than the TCP connection says."""
    try:
        peer_ip = ipaddress.ip_address(peer)
    except ValueError:
        return UNKNOWN_PEER
    if not proxies or not _in(peer_ip, proxies):
        return str(peer_ip)
    hops = [part.strip() for value in forwarded_for for part in value.split(",") if part.strip()]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return str(peer_ip)
        if not _in(address, proxies):
            return str(address)
    return str(peer_ip)


def forwarded_scheme(peer: str, forwarded_proto: Sequence[str], proxies: Networks) -> str | None:
    """`http` or `https` as the trusted proxy says (its own, rightmost, value), else None."""
    try:
        if not proxies or not _in(ipaddress.ip_address(peer), proxies):
            return None
    except ValueError:
        return None
    values = [part.strip().lower() for value in forwarded_proto for part in value.split(",")]
    if values and values[-1] in ("http", "https"):
        return values[-1]
    return None


class ForwardedHeadersMiddleware:
    """Rewrites `scope["client"]` and `scope["scheme"]` as described above."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Networks) -> None:
        self.app = app
        self.proxies = list(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = client[0] if client else ""
            port = client[1] if client else 0
            headers = Headers(scope=scope)
            scope["client"] = (
                forwarded_client(peer, headers.getlist("x-forwarded-for"), self.proxies),
                port,
            )
            scheme = forwarded_scheme(peer, headers.getlist("x-forwarded-proto"), self.proxies)
            if scheme is not None:
                scope["scheme"] = (
                    scheme if scope["type"] == "http" else scheme.replace("http", "ws")
                )
        await self.app(scope, receive, send)
