"""Periodic work done once per interval by the whole deployment, not once
per worker process.

Every worker runs the same timers; before doing a round of some periodic
work, it claims that work's lease in the database for `ttl`. The one claim
that lands does the round; every other worker finds the lease held and
skips. A worker that dies mid-round holds the lease only until it expires.
Clocks of different machines should agree to within a small part of `ttl`
(NTP), as they must for token expiry anyway.

Reusable: any periodic task picks a lease name of its own (`purge`,
`shares.purge`, `log-retention`); `run_claimed` wraps claim, work and commit.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vaultapi.db.repositories.leases import LeaseRepository
from vaultapi.db.types import utcnow

T = TypeVar("T")

WORKER_ID = f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"
"""This process, as a lease holder (the random part tells apart a restarted
process that got the same pid)."""


async def claim(
    session: AsyncSession, name: str, *, now: datetime, ttl: timedelta, holder: str = WORKER_ID
) -> int | None:
    """Claim lease `name` for `ttl`: the claim count when this worker got it
    (do the work), None when another worker holds it (skip). The caller
    commits at once, so that other workers see the claim."""
    return await LeaseRepository(session).claim(name, holder, now=now, ttl=ttl)


async def try_claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    lease: timedelta,
    *,
    holder: str = WORKER_ID,
    now: datetime | None = None,
) -> bool:
    """Claim `name` for `lease` in a transaction of its own, committed at once."""
    async with sessionmaker() as session:
        claimed = await claim(session, name, now=now or utcnow(), ttl=lease, holder=holder)
        await session.commit()
    return claimed is not None


async def run_claimed(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    lease: timedelta,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    holder: str = WORKER_ID,
) -> T | None:
    """`work(session)` on this worker if it wins the claim (then committed),
    else None without doing anything. A failure is the caller's to log; the
    task runs again once the lease is over."""
    if not await try_claim(sessionmaker, name, lease, holder=holder):
        return None
    async with sessionmaker() as session:
        result = await work(session)
        await session.commit()
    return result
