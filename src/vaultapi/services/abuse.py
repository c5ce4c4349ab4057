"""Brute-force protection shared by every worker (counters in the database).

- Per identity (the normalized e-mail, whether or not an account exists):
  after `account_free_failures` consecutive failed proofs, exponential backoff —
  the k-th failure blocks the next attempt for base * 2^(k - free) s, capped.
  Keyed by an HMAC of the e-mail, not the account, so an unknown e-mail backs
  off exactly like a real one (otherwise the 6th attempt would tell them apart),
  and the counter table holds no e-mail addresses. A success clears the streak.
- Per IP: failed proofs, handshake starts (the costly unauthenticated step) and
  registrations in a fixed window.
Blocked requests get 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import AbuseSettings
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.errors import TooManyAttempts


class AbuseGuard:
    def __init__(self, session: AsyncSession, settings: AbuseSettings, server_secret: bytes):
        self.counters = RateLimitRepository(session)
        self.settings = settings
        self.server_secret = server_secret
        self.window = timedelta(seconds=settings.window_seconds)

    def _identity_key(self, identity: str) -> str:
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

    async def check_identity(self, identity: str, now: datetime) -> None:
        streak = await self.counters.get(self._identity_key(identity), now=now)
        if streak is None:
            return
        until = streak.window_start + self.backoff(streak.count)
        if now < until:
            raise self._blocked(until, now, "this account")

    async def check_ip_failures(self, ip: str, now: datetime) -> None:
        counter = await self.counters.get(f"ip-fail:{ip}", now=now)
        if counter is None or counter.count < self.settings.ip_failures_per_window:
            return
        until = counter.window_start + self.window
        if now < until:
            raise self._blocked(until, now, "this address")

    async def record_failure(self, identity: str, ip: str, now: datetime) -> None:
        keep_for = timedelta(seconds=self.settings.account_backoff_max_seconds) + self.window
        await self.counters.streak(self._identity_key(identity), now=now, keep_for=keep_for)
        await self.counters.hit(f"ip-fail:{ip}", now=now, window=self.window)

    async def record_success(self, identity: str) -> None:
        await self.counters.reset(self._identity_key(identity))

    async def count_handshake_start(self, ip: str, now: datetime) -> None:
        await self._count(f"ip-start:{ip}", self.settings.ip_handshakes_per_window, now)

    async def count_registration(self, ip: str, now: datetime) -> None:
        await self._count(f"ip-register:{ip}", self.settings.ip_registrations_per_window, now)

    async def _count(self, key: str, limit: int, now: datetime) -> None:
        counter = await self.counters.hit(key, now=now, window=self.window)
        if counter.count > limit:
            raise self._blocked(counter.window_start + self.window, now, "this address")
