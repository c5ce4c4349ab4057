"""Brute-force protection shared by every worker (counters in the database).

- Per identity (the normalized e-mail, whether or not an account exists):
  after `account_free_failures` consecutive failed proofs, exponential backoff —
  the k-th failure blocks the next attempt for base * 2^(k - free) s, capped.
  Keyed by an HMAC of the e-mail, not the account, so an unknown e-mail backs
  off exactly like a real one (otherwise the 6th attempt would tell them apart),
  and the counter table holds no e-mail addresses. A success clears the streak.
- Per IP (IPv6 per /64): failed proofs, handshake starts (the costly
  unauthenticated step) and registrations in a fixed window.
- At verify, the identity's and the address's counters are locked for the
  request, so concurrent guesses are counted one after another.
Blocked requests get 429 with `Retry-After`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
from datetime import datetime, timedelta

from vaultapi.config import AbuseSettings
from vaultapi.db.direct import Db
from vaultapi.db.models import RateLimitCounter
from vaultapi.db.repositories.ratelimits import Counter, RateLimitRepository
from vaultapi.db.types import utcnow
from vaultapi.errors import TooManyAttempts

STREAK_MEMORY = timedelta(days=1)
"""A failure streak is forgotten only after a day without failures: waiting out
the backoff does not reset it, so the slow rate is the steady state."""


@functools.lru_cache(maxsize=4096)
def ip_bucket(ip: str) -> str:
    """IPv4 addresses count one by one; IPv6 ones by /64, the block one
    subscriber gets (counting single addresses would give each 2^64 buckets).
    Cached, as `vaultapi.api.deps.client_ip`: `ipaddress` parses in Python."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:45]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AbuseGuard:
    def __init__(self, db: Db, settings: AbuseSettings, server_secret: bytes):
        self.counters = RateLimitRepository(db)
        self.settings = settings
        self.server_secret = server_secret
        self.window = timedelta(seconds=settings.window_seconds)
        self._no_streak: set[str] = set()
        """Identity keys seen at zero by `lock_and_check` (and locked since):
        a success has no streak to clear, and spares the statement."""

    def identity_key(self, identity: str) -> str:
        digest = hmac.new(
            self.server_secret, b"vaultapi/abuse/identity\x00" + identity.encode(), hashlib.sha256
        )
        return "identity:" + digest.hexdigest()[:32]

    def backoff(self, failures: int) -> timedelta:
        """How long after the latest of `failures` consecutive failures the next
        attempt is refused."""
        excess = failures - self.settings.account_free_failures
        if excess < 0:
            return timedelta(0)
        seconds = self.settings.account_backoff_base_seconds * 2 ** min(excess, 32)
        return timedelta(seconds=min(seconds, self.settings.account_backoff_max_seconds))

    @staticmethod
    def _blocked(until: datetime, now: datetime, reason: str) -> TooManyAttempts:
        retry_after = max(1, math.ceil((until - now).total_seconds()))
        return TooManyAttempts(
            f"Too many attempts ({reason}); retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after": retry_after},
            keep_changes=True,
        )

    def blocked_until(self, counter: Counter | RateLimitCounter, now: datetime) -> datetime | None:
        """When this counter stops refusing requests; None if it refuses none now."""
        count, start = counter.count, counter.window_start
        key = getattr(counter, "key", "")
        if key.startswith("identity:"):
            until = start + self.backoff(count) if self.backoff(count) else None
        else:
            limits = {
                "ip-fail": self.settings.ip_failures_per_window - 1,
                "ip-start": self.settings.ip_handshakes_per_window,
                "ip-register": self.settings.ip_registrations_per_window,
            }
            limit = limits.get(key.split(":", 1)[0])
            until = start + self.window if limit is not None and count > limit else None
        return until if until is not None and until > now else None

    def ip_key(self, ip: str) -> str:
        return f"ip-fail:{ip_bucket(ip)}"

    def _check(self, streak: Counter | None, ip_failures: Counter | None, now: datetime) -> None:
        if streak is not None and (backoff := self.backoff(streak.count)):
            until = streak.window_start + backoff
            if now < until:
                raise self._blocked(until, now, "this account")
        if ip_failures is not None and ip_failures.count >= self.settings.ip_failures_per_window:
            until = ip_failures.window_start + self.window
            if now < until:
                raise self._blocked(until, now, "this address")

    async def lock_and_check(self, identity_key: str, ip: str, now: datetime) -> datetime:
        """Before checking a proof: take this identity's (`identity_key`) and
        this address's counters for the rest of the request, then refuse if
        either is over. Concurrent guesses therefore count one after the
        other. Returns the time after the wait, which is the time the attempt
        counts at."""
        ip_key = self.ip_key(ip)
        locked = await self.counters.lock((identity_key, ip_key), now=now)
        return self.check_locked(identity_key, ip_key, locked, now)

    def check_locked(
        self, identity_key: str, ip_key: str, locked: dict[str, Counter], now: datetime
    ) -> datetime:
        """`lock_and_check` once the two counters are locked (by `lock_and_check`,
        or by the statement that took the handshake: `LoginAccounts.take_handshake`)."""
        if locked[identity_key].count == 0:
            self._no_streak.add(identity_key)
        live = {
            key: counter
            for key, counter in locked.items()
            if counter.count > 0 and counter.expires_at is not None and counter.expires_at > now
        }
        now = utcnow()
        self._check(live.get(identity_key), live.get(ip_key), now)
        return now

    async def record_failure(self, identity_key: str, ip: str, now: datetime) -> None:
        self._no_streak.discard(identity_key)
        await self.counters.streak(identity_key, now=now, keep_for=STREAK_MEMORY)
        await self.counters.hit(self.ip_key(ip), now=now, window=self.window)

    async def record_success(self, identity_key: str) -> None:
        if identity_key not in self._no_streak:
            await self.counters.reset(identity_key)

    def handshake_start_keys(self, identity: str, ip: str) -> tuple[str, tuple[str, str]]:
        """The counter a handshake start counts against, and the two it is
        checked against (this identity's backoff, this address's failures)."""
        return f"ip-start:{ip_bucket(ip)}", (self.identity_key(identity), self.ip_key(ip))

    def check_handshake_start(
        self, started: Counter, live: dict[str, Counter], checked: tuple[str, str], now: datetime
    ) -> None:
        """Refuse a start over the address's limit, or one that `check` refuses;
        `started` is the start's own counter after counting it, `live` the live
        counters among `checked` (`handshake_start_keys`)."""
        if started.count > self.settings.ip_handshakes_per_window:
            raise self._blocked(started.window_start + self.window, now, "this address")
        identity_key, ip_key = checked
        self._check(live.get(identity_key), live.get(ip_key), now)

    async def count_registration(self, ip: str, now: datetime) -> None:
        limit = self.settings.ip_registrations_per_window
        await self._count(f"ip-register:{ip_bucket(ip)}", limit, now)

    async def _count(self, key: str, limit: int, now: datetime) -> None:
        counter = await self.counters.hit(key, now=now, window=self.window)
        if counter.count > limit:
            raise self._blocked(counter.window_start + self.window, now, "this address")
