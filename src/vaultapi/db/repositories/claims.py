"""Leases on periodic tasks (`task_claims`), shared by every worker.

`try_claim` is one conditional UPDATE: the row's lease is taken only if it
has run out (`lease_until <= now`). PostgreSQL re-checks the WHERE clause of
a concurrent UPDATE after the first one commits, and SQLite serializes
writers, so of any number of contenders exactly one gets the row back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import TaskClaim
from vaultapi.db.repositories import rowcount, upsert_insert


class TaskClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ensure(self, name: str, now: datetime) -> None:
        """The task's row, created free (lease already over) if missing."""
        insert = upsert_insert(self.session, TaskClaim).values(
            name=name, holder="", lease_until=now, last_run_at=None
        )
        await self.session.execute(insert.on_conflict_do_nothing(index_elements=["name"]))

    async def try_claim(self, name: str, holder: str, now: datetime, lease: timedelta) -> bool:
        result = await self.session.execute(
            update(TaskClaim)
            .where(col(TaskClaim.name) == name, col(TaskClaim.lease_until) <= now)
            .values(holder=holder[:128], lease_until=now + lease, last_run_at=now)
        )
        return rowcount(result) == 1

    async def release(self, name: str, holder: str, now: datetime) -> None:
        """Give the lease back early (the holder only)."""
        await self.session.execute(
            update(TaskClaim)
            .where(col(TaskClaim.name) == name, col(TaskClaim.holder) == holder[:128])
            .values(lease_until=now)
        )
