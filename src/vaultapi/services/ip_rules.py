"""The operator's IP rules applied to a caller: a `block` covering the address
refuses it, unless an `allow` covers it too (an exception carved out of a
blocked range). Rules live in the database, so a block made through one
worker holds on every other at the next request."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from vaultapi.db.models import IPRule


def blocking_rule(ip: str, rules: Sequence[IPRule]) -> IPRule | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None  # not an address (a Unix socket peer): rules name networks
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    block: IPRule | None = None
    for rule in rules:
        network = ipaddress.ip_network(rule.network, strict=False)
        if network.version != address.version or address not in network:
            continue
        if rule.action == "allow":
            return None
        block = block or rule
    return block
