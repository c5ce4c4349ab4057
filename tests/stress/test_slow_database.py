"""A database that stops answering: the pool is exhausted, queueing is bounded.

The test holds an exclusive lock on the items table, so every request that
touches it waits inside PostgreSQL. With 2 pooled connections, 2 requests
wait for the lock until `lock_timeout` ends them; the rest wait for a
connection until `pool_timeout` ends them. Each gets a 503 problem with
`Retry-After` in bounded time, the process stays responsive meanwhile
(`/healthz`), and once the lock is gone it serves normally: no connection
and no worker is left wedged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx
from sqlalchemy import text

from tests.stress.conftest import fresh_connections, small_pool
from tests.support.cluster import cluster
from tests.support.reports import REPORT_LINES
from vaultapi import client
from vaultapi.client.vault import Vault
from vaultapi.config import DatabaseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.engine import create_engine

EMAIL = "slow@example.com"
PASSWORD = "correct horse battery staple"
POOL_SIZE = 2
POOL_TIMEOUT = 2.0
LOCK_TIMEOUT = 3.0
REQUESTS = 12
BOUND_SECONDS = POOL_TIMEOUT + LOCK_TIMEOUT + 6.0
"""What a request may wait at most, plus slack for a loaded machine."""

ENV = small_pool(
    size=POOL_SIZE,
    pool_timeout=POOL_TIMEOUT,
    VAULTAPI_DATABASE__MAX_OVERFLOW="0",
    VAULTAPI_DATABASE__LOCK_TIMEOUT_SECONDS=str(LOCK_TIMEOUT),
    VAULTAPI_DATABASE__STATEMENT_TIMEOUT_SECONDS="20",
)


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def test_a_locked_table_exhausts_the_pool_and_every_request_gets_a_bounded_503(
    workdir: Path, database: str
) -> None:
    holder = create_engine(database, DatabaseSettings(pool_size=1))
    with cluster(workdir, database, size=1, env=ENV) as deployment:
        server = deployment.servers[0]
        async with fresh_connections(server.base_url) as http, holder.connect() as lock:
            await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
            login = await client.login(http, EMAIL, PASSWORD)
            vault = Vault(http, login)
            item = await vault.add({"name": "before the lock"})
            auth = login.auth_header

            await lock.execute(text("LOCK TABLE vault_items IN ACCESS EXCLUSIVE MODE"))
            reads = [http.get(f"/v1/vault/items/{item.id}", headers=auth) for _ in range(6)]
            syncs = [http.get("/v1/vault/sync", headers=auth) for _ in range(REQUESTS - 6)]
            burst = asyncio.gather(*(timed(request) for request in [*reads, *syncs]))
            await asyncio.sleep(0.5)
            health, health_took = await timed(http.get("/healthz"))
            answers = await asyncio.wait_for(burst, timeout=3 * BOUND_SECONDS)  # else: wedged
            await lock.rollback()  # the lock is gone

            after_lock = await asyncio.gather(
                *(http.get(f"/v1/vault/items/{item.id}", headers=auth) for _ in range(REQUESTS))
            )
            ready = await http.get("/readyz")
            added = await vault.add({"name": "after the lock"})
        log = server.log()
    await holder.dispose()

    REPORT_LINES.append(
        f"stress/slow database: {REQUESTS} requests on a locked table with {POOL_SIZE} "
        f"connections → {sorted({r.status_code for r, _ in answers})}, longest "
        f"{max(took for _, took in answers):.1f}s; /healthz meanwhile in {health_took:.2f}s"
    )
    for response, took in answers:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["retry-after"] == "2"
        assert took < BOUND_SECONDS
    # both limits were reached: the pool's queue and the lock wait
    assert "database busy: TimeoutError" in log
    assert "canceling statement due to lock timeout" in log
    # the process answered meanwhile, and afterwards serves normally
    assert health.status_code == 200
    assert health_took < BOUND_SECONDS / 2
    assert [response.status_code for response in after_lock] == [200] * REQUESTS
    assert ready.status_code == 200
    assert added.fields == {"name": "after the lock"}
    assert "Traceback" not in log
    assert '"level": "ERROR"' not in log
