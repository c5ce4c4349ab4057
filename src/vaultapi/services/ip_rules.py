"""The operator's IP rules applied to a caller: a `block` covering the address
refuses it, unless an `allow` covers it too (an exception carved out of a
blocked range). Rules live in the database, so a block made through one
worker holds on every other at the next request."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar


class Rule(Protocol):
    """An `IPRule` row, or what the authentication routes read of one."""

    @property
    def network(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


R = TypeVar("R", bound=Rule)


def blocking_rule(ip: str, rules: Sequence[R]) -> R | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None  # not an address (a Unix socket peer): rules name networks
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    block: R | None = None
    for rule in rules:
        network = ipaddress.ip_network(rule.network, strict=False)
        if network.version != address.version or address not in network:
            continue
        if rule.action == "allow":
            return None
        block = block or rule
    return block
