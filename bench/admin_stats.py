"""Admin statistics on a year of data, on PostgreSQL: how long the daily and
the frequency aggregations take over 365 days of authentication events.

    .venv/bin/python -m bench.admin_stats [--quick]

Seeds a fresh database (dropped afterwards) with 3,000 authentication
events for each of 365 days (a handful with --quick) (80 % completed logins, 15 % failures, 5 %
registrations, spread over hours and 2,000 accounts and 500 addresses), then
times each query five times and prints the median. Target: well under a
second for a whole year (the admin dashboard's range, issue 7).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from bench._support import Row, Sizes, Target, fresh_postgres
from vaultapi.config import DatabaseSettings
from vaultapi.db import migrate
from vaultapi.db.engine import create_engine, create_sessionmaker
from vaultapi.db.models import Account, AuthEvent
from vaultapi.db.repositories import sa_table
from vaultapi.db.repositories.admin import AdminRepository

TARGET_MS = Target("<", 1000)
SECTION = "Admin statistics over one year of events"
QUERIES = {"daily": "daily", "frequency": "frequency", "top_ips": "top failing IPs"}


async def seed(url: str, per_day: int, first: date) -> int:
    engine = create_engine(url, DatabaseSettings())
    await migrate.upgrade(engine)
    rng = random.Random(7)  # noqa: S311 - reproducible synthetic data, not secrets
    accounts = [uuid.uuid4() for _ in range(2000)]
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(sa_table(Account)),
            [
                {
                    "id": account_id,
                    "email": f"user{n}@example.com",
                    "role": "user",
                    "status": "active",
                    "kdf_algorithm": "argon2id",
                    "kdf_memory_kib": 19456,
                    "kdf_iterations": 2,
                    "kdf_parallelism": 1,
                    "kdf_salt": b"\0" * 16,
                    "srp_salt": b"\0" * 16,
                    "srp_verifier": b"\1" * 384,
                    "protected_account_key": "x",
                    "public_key": "x",
                    "protected_private_key": "x",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, account_id in enumerate(accounts)
            ],
        )
    total = 0
    for day in range(365):
        rows = []
        start = datetime.combine(first + timedelta(days=day), datetime.min.time(), UTC)
        for _ in range(per_day):
            roll = rng.random()
            action, outcome, reason = (
                ("srp_verify", "success", "")
                if roll < 0.8
                else ("srp_verify", "failure", "bad_proof")
                if roll < 0.95
                else ("register", "success", "")
            )
            rows.append(
                {
                    "at": start + timedelta(seconds=rng.randrange(86_400)),
                    "ip": f"198.51.100.{rng.randrange(250)}"
                    if outcome == "failure"
                    else f"192.0.2.{rng.randrange(250)}",
                    "user_agent": "bench",
                    "account_id": rng.choice(accounts),
                    "action": action,
                    "outcome": outcome,
                    "reason": reason,
                }
            )
        async with engine.begin() as connection:
            await connection.execute(insert(sa_table(AuthEvent)), rows)
        total += len(rows)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE auth_events")
    await engine.dispose()
    return total


async def measure_queries(url: str, first: date, last: date) -> dict[str, float]:
    engine = create_engine(url, DatabaseSettings())
    sessionmaker = create_sessionmaker(engine)
    since = datetime.combine(first, datetime.min.time(), UTC)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    timings: dict[str, list[float]] = {key: [] for key in QUERIES}
    for _ in range(5):
        async with sessionmaker() as session:
            repo = AdminRepository(session)
            started = time.perf_counter()
            await repo.daily_auth(since, until)
            await repo.daily_usage(first.isoformat(), last.isoformat())
            timings["daily"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await repo.login_frequency(since, until)
            timings["frequency"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await repo.top_failing_ips(since, until, 10)
            timings["top_ips"].append(time.perf_counter() - started)
    await engine.dispose()
    return {name: statistics.median(values) for name, values in timings.items()}


async def _run(url: str, per_day: int) -> tuple[int, dict[str, float]]:
    first = date(2025, 1, 1)
    last = first + timedelta(days=364)
    total = await seed(url, per_day, first)
    return total, await measure_queries(url, first, last)


def measure(sizes: Sizes) -> list[Row]:
    with fresh_postgres("vaultapi_bench_stats") as url:
        total, medians = asyncio.run(_run(url, sizes.admin_events_per_day))
    return [
        Row(
            f"admin.{key}",
            SECTION,
            f"{name} statistics, {total:,} events (median of 5)",
            medians[key] * 1000,
            "ms",
            TARGET_MS,
        )
        for key, name in QUERIES.items()
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("admin_stats")
