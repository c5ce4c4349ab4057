"""Fixed-window counters in the database, shared by every worker.

One atomic upsert per hit (`INSERT … ON CONFLICT DO UPDATE … RETURNING`,
which PostgreSQL and SQLite ≥ 3.35 both have): no read-modify-write race,
so N workers count as one. Statements run on a `Db` (`vaultapi.db.direct`):
login is the hot path that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Executable,
    Select,
    bindparam,
    case,
    delete,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import HasCTE

from vaultapi.db.direct import Db, Query
from vaultapi.db.models import RateLimitCounter
from vaultapi.db.repositories import sa_table
from vaultapi.db.types import UTCDateTime

_T = sa_table(RateLimitCounter)


@dataclass(frozen=True)
class Counter:
    count: int
    window_start: datetime
    expires_at: datetime | None = None


def locked_counter(row: Any, prefix: str = "") -> Counter:
    """A counter from a row of `_lock_two` or `locking` (columns count,
    window_start, expires_at, each after `prefix` when a query labelled them)."""
    return Counter(
        int(row[f"{prefix}count"]), row[f"{prefix}window_start"], row[f"{prefix}expires_at"]
    )


def _upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(_T) if dialect == "postgresql" else sqlite.insert(_T)


def _when(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UTCDateTime())


def _hit_upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    now, expires = _when("now"), _when("expires_at")
    stale = _T.c.window_start <= _when("stale_before")
    insert = _upsert(dialect).values(
        key=bindparam("key"), window_start=now, count=1, expires_at=expires
    )
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "count": case((stale, 1), else_=_T.c.count + 1),
            "window_start": case((stale, now), else_=_T.c.window_start),
            "expires_at": expires,
        },
    )


def _hit(dialect: str) -> Executable:
    return _hit_upsert(dialect).returning(_T.c.count, _T.c.window_start)


def _streak(dialect: str) -> Executable:
    now, expires = _when("now"), _when("expires_at")
    insert = _upsert(dialect).values(
        key=bindparam("key"), window_start=now, count=1, expires_at=expires
    )
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={"count": _T.c.count + 1, "window_start": now, "expires_at": expires},
    ).returning(_T.c.count, _T.c.window_start)


def _lock_two(dialect: str) -> Executable:
    """Both counters created empty if missing, locked (the no-op DO UPDATE
    takes the row lock, held until commit) and returned, in one statement.
    Rows are taken in VALUES order: the caller sorts the keys."""
    now = _when("now")
    rows = [
        {"key": bindparam(f"key{n}"), "window_start": now, "count": 0, "expires_at": now}
        for n in range(2)
    ]
    return (
        _upsert(dialect)
        .values(rows)
        .on_conflict_do_update(index_elements=["key"], set_={"count": _T.c.count})
        .returning(_T.c.key, _T.c.count, _T.c.window_start, _T.c.expires_at)
    )


def locking(keys: Select[tuple[str]] | CompoundSelect[tuple[str]]) -> HasCTE:
    """PostgreSQL: `_lock_two` for keys that a query chooses (for statements of
    other repositories that include it as a CTE). The keys are locked in
    sorted order, as `RateLimitRepository.lock` does, and the CTE answers
    key, count, window_start and expires_at of each."""
    now = _when("now")
    chosen = keys.subquery("keys")
    # Byte order, as Python's `sorted`, whatever the database's collation.
    rows = select(chosen.c.key, now, literal(0), now).order_by(chosen.c.key.collate("C"))
    return (
        postgresql.insert(_T)
        .from_select(["key", "window_start", "count", "expires_at"], rows)
        .on_conflict_do_update(index_elements=["key"], set_={"count": _T.c.count})
        .returning(_T.c.key, _T.c.count, _T.c.window_start, _T.c.expires_at)
    )


def _hit_and_read_two(dialect: str) -> Executable:
    """`_hit`, whose RETURNING also reads two other live counters (scalar
    subqueries, which PostgreSQL and SQLite both allow there): counting a
    handshake start and checking the caller's backoff in one round trip."""
    other = _T.alias("other")
    read: list[Any] = []
    for n in range(2):
        for column in ("count", "window_start"):
            read.append(
                select(other.c[column])
                .where(other.c.key == bindparam(f"key{n}"), other.c.expires_at > _when("now"))
                .scalar_subquery()
                .label(f"{column}{n}")
            )
    return _hit_upsert(dialect).returning(_T.c.count, _T.c.window_start, *read)


def hit_and_read_two(dialect: str) -> HasCTE:
    """`_hit_and_read_two`, for statements of other repositories that include
    it (read its row with `hit_and_read_two_result`)."""
    return cast(HasCTE, _hit_and_read_two(dialect))


def hit_and_read_two_params(
    key: str, others: tuple[str, str], *, now: datetime, window: timedelta
) -> dict[str, Any]:
    return {
        "key": key,
        "now": now,
        "expires_at": now + window,
        "stale_before": now - window,
        "key0": others[0],
        "key1": others[1],
    }


def hit_and_read_two_result(
    row: Any, others: tuple[str, str]
) -> tuple[Counter, dict[str, Counter]]:
    """The counted counter, and the live ones among `others`, from the row."""
    live = {
        other: Counter(int(row[f"count{n}"]), row[f"window_start{n}"])
        for n, other in enumerate(others)
        if row[f"count{n}"] is not None
    }
    return Counter(count=int(row["count"]), window_start=row["window_start"]), live


_HIT = Query(_hit)
_HIT_AND_READ_TWO = Query(_hit_and_read_two)
_STREAK = Query(_streak)
_LOCK_TWO = Query(_lock_two)
_RESET = Query(delete(_T).where(_T.c.key == bindparam("key")))
_PURGE = Query(delete(_T).where(_T.c.expires_at <= _when("now")))


class RateLimitRepository:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def hit(self, key: str, *, now: datetime, window: timedelta) -> Counter:
        """Count one event; a window older than `window` starts over at 1."""
        row = await self.db.fetchrow(
            _HIT, key=key, now=now, expires_at=now + window, stale_before=now - window
        )
        assert row is not None  # noqa: S101 - an upsert with RETURNING answers one row
        return Counter(count=int(row["count"]), window_start=row["window_start"])

    async def hit_and_get(
        self, key: str, others: tuple[str, str], *, now: datetime, window: timedelta
    ) -> tuple[Counter, dict[str, Counter]]:
        """`hit(key)`, and the live counters among `others`, in one statement."""
        row = await self.db.fetchrow(
            _HIT_AND_READ_TWO, **hit_and_read_two_params(key, others, now=now, window=window)
        )
        assert row is not None  # noqa: S101 - an upsert with RETURNING answers one row
        return hit_and_read_two_result(row, others)

    async def streak(self, key: str, *, now: datetime, keep_for: timedelta) -> Counter:
        """Count one event in a streak that never resets by time alone (backoff);
        `window_start` is the time of the latest event."""
        row = await self.db.fetchrow(_STREAK, key=key, now=now, expires_at=now + keep_for)
        assert row is not None  # noqa: S101 - an upsert with RETURNING answers one row
        return Counter(count=int(row["count"]), window_start=row["window_start"])

    async def lock(self, keys: tuple[str, str], *, now: datetime) -> dict[str, Counter]:
        """Lock the counters for two distinct `keys` until the transaction ends,
        creating empty ones as needed, and return both (live or not: see
        `count` and `expires_at`). Concurrent
        requests on the same keys wait here, so check-then-count cannot race
        (PostgreSQL row locks; SQLite's BEGIN IMMEDIATE already serializes
        writers). Keys are locked in sorted order, so two requests can never
        deadlock."""
        first, second = sorted(keys)
        rows = await self.db.fetch(_LOCK_TWO, key0=first, key1=second, now=now)
        return {row["key"]: locked_counter(row) for row in rows}

    async def reset(self, key: str) -> None:
        await self.db.execute(_RESET, key=key)

    async def purge_expired(self, now: datetime) -> int:
        return await self.db.execute(_PURGE, now=now)
