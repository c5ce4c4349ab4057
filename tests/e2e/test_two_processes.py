"""No state lives in a process: two real `vaultapi serve` processes on two
ports, one PostgreSQL database, driven with the reference client.

Helpers: `cluster(workdir, url, size=N)` starts N processes on one database
(`tests/support/cluster.py`); `deployment.http(i)` talks to process i;
`deployment.round_robin()` alternates requests between them.

Second factors, share view counts and IP blocks across both processes are in
test_two_processes_features.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.cluster import Cluster, cluster, fresh_database
from vaultapi import client
from vaultapi.config import DatabaseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.engine import create_engine

pytestmark = pytest.mark.slow

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def database(workdir: Path) -> AsyncIterator[str]:
    async with fresh_database(workdir) as url:
        yield url


async def test_login_refresh_and_logout_span_both_processes(workdir: Path, database: str) -> None:
    with cluster(workdir, database) as deployment:
        async with deployment.http(0) as zero, deployment.http(1) as one:
            await client.register(zero, EMAIL, PASSWORD, kdf=MINIMUM_KDF)

            # SRP start on one process, verify on the other
            both, calls = deployment.round_robin()
            async with both:
                login = await client.login(both, EMAIL, PASSWORD)
            assert calls.calls == [
                (0, "POST", "/v1/auth/srp/start"),
                (1, "POST", "/v1/auth/srp/verify"),
            ]

            # the token works on both; refresh on the other; the new token on both
            for http in (zero, one):
                assert (await http.get("/v1/account", headers=login.auth_header)).status_code == 200
            old_refresh = login.refresh_token
            await login.refresh(zero)
            for http in (one, zero):
                assert (await http.get("/v1/account", headers=login.auth_header)).status_code == 200
            # the rotated-away refresh token is reuse on the other process
            reuse = await one.post("/v1/auth/refresh", json={"refresh_token": old_refresh})
            assert reuse.status_code == 401
            assert reuse.json()["code"] == "refresh_token_reused"

            # logout on one rejects the token on the other at once
            second = await client.login(one, EMAIL, PASSWORD)
            assert (await zero.get("/v1/account", headers=second.auth_header)).status_code == 200
            await second.logout(one)
            after = await zero.get("/v1/account", headers=second.auth_header)
            assert after.status_code == 401
            assert after.json()["code"] == "invalid_token"


async def test_brute_force_backoff_holds_across_processes(workdir: Path, database: str) -> None:
    env = {"VAULTAPI_ABUSE__ACCOUNT_FREE_FAILURES": "2"}
    with cluster(workdir, database, env=env) as deployment:
        async with deployment.http(0) as zero, deployment.http(1) as one:
            await client.register(zero, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            statuses = []
            for attempt in range(4):
                http = (zero, one)[attempt % 2]
                try:
                    await client.login(http, EMAIL, "wrong password")
                    statuses.append(200)
                except client.ProblemError as error:
                    statuses.append(error.status)
            # even the right password waits out the backoff, on either process
            with pytest.raises(client.ProblemError) as blocked:
                await client.login(one, EMAIL, PASSWORD)
    assert statuses == [401, 401, 429, 429]
    assert blocked.value.status == 429


def _purge_rounds(log: str) -> tuple[list[datetime], int]:
    """(when this process ran a round, how many rounds it skipped), from its JSON log."""
    ran: list[datetime] = []
    skipped = 0
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        message = entry.get("message", "")
        if message.startswith("purge round ") and message.endswith(" ran"):
            ran.append(datetime.fromisoformat(entry["time"]))
        skipped += message.startswith("purge round skipped")
    return ran, skipped


async def _lease_claims(deployment: Cluster) -> int:
    engine = create_engine(deployment.database_url, DatabaseSettings())
    try:
        async with engine.connect() as connection:
            row = await connection.execute(text("SELECT claims FROM leases WHERE name = 'purge'"))
            return int(row.scalar_one())
    finally:
        await engine.dispose()


async def test_the_periodic_purge_runs_once_per_interval_not_once_per_process(
    workdir: Path, database: str
) -> None:
    """Both processes wake every second; only the lease holder purges. So the
    rounds, from both logs together, are a second apart; without the lease
    the two timers' rounds would interleave, some a fraction of a second apart."""
    env = {"VAULTAPI_DATABASE__PURGE_INTERVAL_SECONDS": "1", "VAULTAPI_LOG__LEVEL": "DEBUG"}
    with cluster(workdir, database, env=env) as deployment:
        await asyncio.sleep(6)
        claims = await _lease_claims(deployment)
        logs = deployment.logs()
    rounds = [_purge_rounds(log) for log in logs]
    assert all(len(ran) + skipped >= 4 for ran, skipped in rounds), rounds  # both timers live
    times = sorted(time for ran, _ in rounds for time in ran)
    assert len(times) >= 4, rounds
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.8, gaps
    assert claims in (len(times), len(times) + 1), (claims, rounds)  # one may be mid-round
