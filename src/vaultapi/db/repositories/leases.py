"""Leases: one atomic upsert decides who holds a named claim."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import Lease
from vaultapi.db.repositories import sa_table, upsert_insert
from vaultapi.db.types import UTCDateTime


class LeaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> int | None:
        """Take the lease `name` if nobody holds it, or their claim has expired.
        Returns the lease's claim count (this claim included), or None when
        someone else holds it. `INSERT … ON CONFLICT DO UPDATE … WHERE` is one
        statement: of any number of concurrent claimants, exactly one wins."""
        table = sa_table(Lease).c
        insert = upsert_insert(self.session, Lease).values(
            name=name, holder=holder, claimed_at=now, expires_at=now + ttl, claims=1
        )
        statement = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "holder": holder,
                "claimed_at": literal(now, UTCDateTime()),
                "expires_at": literal(now + ttl, UTCDateTime()),
                "claims": table.claims + 1,
            },
            where=table.expires_at <= literal(now, UTCDateTime()),
        ).returning(table.claims)
        claims = (await self.session.execute(statement)).scalar_one_or_none()
        return None if claims is None else int(claims)

    async def get(self, name: str) -> Lease | None:
        result = await self.session.execute(select(Lease).where(col(Lease.name) == name))
        return result.scalar_one_or_none()
