"""Fixed-window counters in the database, shared by every worker.

One atomic upsert per hit (`INSERT … ON CONFLICT DO UPDATE … RETURNING`,
which PostgreSQL and SQLite ≥ 3.35 both have): no read-modify-write race,
so N workers count as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import RateLimitCounter
from vaultapi.db.repositories import rowcount, sa_table, upsert_insert
from vaultapi.db.types import UTCDateTime


@dataclass(frozen=True)
class Counter:
    count: int
    window_start: datetime


class RateLimitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        return upsert_insert(self.session, RateLimitCounter)

    async def hit(self, key: str, *, now: datetime, window: timedelta) -> Counter:
        """Count one event; a window older than `window` starts over at 1."""
        table = sa_table(RateLimitCounter).c
        stale = table.window_start <= literal(now - window, UTCDateTime())
        now_value = literal(now, UTCDateTime())
        insert = self._insert().values(key=key, window_start=now, count=1, expires_at=now + window)
        statement = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": case((stale, 1), else_=table.count + 1),
                "window_start": case((stale, now_value), else_=table.window_start),
                "expires_at": literal(now + window, UTCDateTime()),
            },
        ).returning(table.count, table.window_start)
        row = (await self.session.execute(statement)).one()
        return Counter(count=int(row[0]), window_start=row[1])

    async def streak(self, key: str, *, now: datetime, keep_for: timedelta) -> Counter:
        """Count one event in a streak that never resets by time alone (backoff);
        `window_start` is the time of the latest event."""
        table = sa_table(RateLimitCounter).c
        insert = self._insert().values(
            key=key, window_start=now, count=1, expires_at=now + keep_for
        )
        statement = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": table.count + 1,
                "window_start": literal(now, UTCDateTime()),
                "expires_at": literal(now + keep_for, UTCDateTime()),
            },
        ).returning(table.count, table.window_start)
        row = (await self.session.execute(statement)).one()
        return Counter(count=int(row[0]), window_start=row[1])

    async def lock(self, keys: list[str], *, now: datetime) -> dict[str, Counter]:
        """Lock the counters for `keys` until the transaction ends, creating
        empty ones as needed, and return the live ones. Concurrent requests on
        the same keys wait here, so check-then-count cannot race (PostgreSQL row
        locks; SQLite's BEGIN IMMEDIATE already serializes writers). Keys are
        locked in sorted order, so two requests can never deadlock."""
        keys = sorted(keys)
        insert = self._insert().values(
            [{"key": key, "window_start": now, "count": 0, "expires_at": now} for key in keys]
        )
        await self.session.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
        result = await self.session.execute(
            select(RateLimitCounter)
            .where(col(RateLimitCounter.key).in_(keys))
            .order_by(col(RateLimitCounter.key))
            .with_for_update()
        )
        return {
            row.key: Counter(row.count, row.window_start)
            for row in result.scalars()
            if row.expires_at > now and row.count > 0
        }

    async def get_many(self, keys: list[str], *, now: datetime) -> dict[str, Counter]:
        result = await self.session.execute(
            select(RateLimitCounter).where(
                col(RateLimitCounter.key).in_(keys), col(RateLimitCounter.expires_at) > now
            )
        )
        return {row.key: Counter(row.count, row.window_start) for row in result.scalars()}

    async def reset(self, key: str) -> None:
        await self.session.execute(delete(RateLimitCounter).where(col(RateLimitCounter.key) == key))

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(RateLimitCounter).where(col(RateLimitCounter.expires_at) <= now)
        )
        return rowcount(result)
