"""Run a periodic task on one worker of many: a database-level claim.

Every worker's timer calls `run_claimed(name, interval, work)`. The claim is
taken and committed in its own short transaction before the work starts, and
lasts `lease` (normally the task's interval): whoever gets it runs the task,
everyone else skips this round, and nobody runs it again until the lease is
over, so a task on an interval runs about once per interval in the whole
deployment, not once per worker. A worker that dies mid-task blocks the task
only until its lease runs out. The work gets its own session and commits on
success; a failure is logged by the caller and retried after the lease.

Reusable for any such task (share purge, log retention, …): pick a unique
`name` of at most 64 characters.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vaultapi.db.repositories.claims import TaskClaimRepository
from vaultapi.db.types import utcnow

T = TypeVar("T")

WORKER_ID = f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""Who holds a claim: readable in the table, unique per process."""


async def try_claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    lease: timedelta,
    *,
    holder: str = WORKER_ID,
    now: datetime | None = None,
) -> bool:
    """Take the claim on `name` for `lease` if nobody holds it; committed at once."""
    now = now or utcnow()
    async with sessionmaker() as session:
        claims = TaskClaimRepository(session)
        await claims.ensure(name, now)
        await session.commit()
        claimed = await claims.try_claim(name, holder, now, lease)
        await session.commit()
    return claimed


async def run_claimed(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    lease: timedelta,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    holder: str = WORKER_ID,
) -> T | None:
    """`work(session)` on this worker if it wins the claim (then committed),
    else None without doing anything."""
    if not await try_claim(sessionmaker, name, lease, holder=holder):
        return None
    async with sessionmaker() as session:
        result = await work(session)
        await session.commit()
    return result
