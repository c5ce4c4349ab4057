"""Periodic clean-up: expired handshakes, rate-limit counters, dead sessions.

Unauthenticated callers can create handshakes and counters, so they must not
accumulate. Every worker runs the purge on a timer; the deletes are
idempotent (`WHERE expires_at < now`), so several workers doing it at once
waste a little work and break nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from vaultapi.db.models import Session
from vaultapi.db.repositories import rowcount
from vaultapi.db.repositories.auth import HandshakeRepository
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.db.types import utcnow

log = logging.getLogger(__name__)

SESSION_RETENTION = timedelta(days=30)
"""Ended sessions stay listable (and their rotated tokens recognizable as
reuse) for a while, then go with their refresh tokens (cascade)."""


@dataclass(frozen=True)
class Purged:
    handshakes: int
    counters: int
    sessions: int


async def purge_expired(session: AsyncSession, now: datetime) -> Purged:
    handshakes = await HandshakeRepository(session).purge_expired(now)
    counters = await RateLimitRepository(session).purge_expired(now)
    cutoff = now - SESSION_RETENTION
    ended = await session.execute(
        delete(Session).where(
            (col(Session.expires_at) < cutoff) | (col(Session.revoked_at) < cutoff)
        )
    )
    return Purged(handshakes, counters, rowcount(ended))


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float
) -> None:
    """Until cancelled (at shutdown). A failed round is logged, not fatal."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            async with sessionmaker() as session:
                purged = await purge_expired(session, utcnow())
                await session.commit()
            if purged.handshakes or purged.counters or purged.sessions:
                log.info(
                    "purged %d handshakes, %d counters, %d sessions",
                    purged.handshakes,
                    purged.counters,
                    purged.sessions,
                )
        except Exception:
            log.exception("periodic purge failed; retrying next round")
