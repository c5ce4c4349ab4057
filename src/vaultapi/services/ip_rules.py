"""The operator's IP rules applied to a caller: a `block` covering the address
refuses it, unless an `allow` covers it too (an exception carved out of a
blocked range). Rules live in the database; each worker reads them at most
every `admin.ip_rules_cache_seconds` (`IPRuleCache`), so a block made through
one worker holds on every other within that time, and at once on its own."""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from vaultapi.db.direct import Db
from vaultapi.db.repositories.admin import IPRuleLookup, LiveIPRule


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
    if not rules:
        return None
    address = _address(ip)
    if address is None:
        return None  # not an address (a Unix socket peer): rules name networks
    block: R | None = None
    for rule in rules:
        network = _network(rule.network)
        if network.version != address.version or address not in network:
            continue
        if rule.action == "allow":
            return None
        block = block or rule
    return block


@functools.lru_cache(maxsize=4096)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parsed once per address (`ipaddress` parses in Python, on every
    authentication request); an IPv4-mapped IPv6 address as its IPv4 one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _network(network: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(network, strict=False)


class IPRuleCache:
    """One worker's copy of the live IP rules, read again once `ttl_seconds`
    old. Every authentication request checks the rules: reading them from
    the database each time was one of a login's dozen round trips, for a
    table that changes when an operator acts. A rule that expires while
    cached stops applying at its `expires_at`, not at the next read."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._rules: list[LiveIPRule] | None = None
        self._read_at = 0.0

    async def live(self, db: Db, now: datetime) -> list[LiveIPRule]:
        if self._rules is None or time.monotonic() - self._read_at >= self.ttl_seconds:
            read_at = time.monotonic()
            self._rules = await IPRuleLookup(db).live(now)
            self._read_at = read_at
        return [rule for rule in self._rules if rule.expires_at is None or rule.expires_at > now]

    def forget(self) -> None:
        """After a change made through this worker: the next check reads again."""
        self._rules = None
