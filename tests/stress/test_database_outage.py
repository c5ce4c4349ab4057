"""PostgreSQL goes away under write load, and comes back.

While it is gone, every request fails fast with 503 problem+json and
`Retry-After` (no hang, no 500); when it is back, the same server process
serves again within seconds, without a restart; and every write that got a
2xx is in the database afterwards. By default the outage is of the test's
own database (sessions ended, connections refused; see `outage.py`); with
`VAULTAPI_TEST_RESTART_POSTGRES=1` it is a real restart of the local cluster.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.stress.conftest import fresh_connections, small_pool
from tests.stress.load import PROBLEM, WriteLoad, check_sequences, missing_writes
from tests.stress.outage import RESTART_POSTGRES, database_outage, postgresql_restart
from tests.support.cluster import cluster
from tests.support.reports import REPORT_LINES
from vaultapi import client

POOL_TIMEOUT = 3.0
CONNECT_TIMEOUT = 2.0
FAIL_FAST_SECONDS = POOL_TIMEOUT + CONNECT_TIMEOUT + 5.0
"""A request during the outage waits at most for a pooled connection and for
one connection attempt; the rest is slack for a loaded machine."""
OUTAGE_SECONDS = 4.0
RECOVERY_SECONDS = 20.0


async def wait_until_serving(http: httpx.AsyncClient, login: client.Login) -> float:
    """Seconds until an authenticated read succeeds again."""
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_SECONDS:
        try:
            response = await http.get("/v1/vault/sync", headers=login.auth_header)
            if response.status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"not serving {RECOVERY_SECONDS}s after the outage ended")


async def test_requests_fail_fast_during_an_outage_and_no_acknowledged_write_is_lost(
    workdir: Path, database: str, database_name: str, admin: AsyncEngine
) -> None:
    env = small_pool(pool_timeout=POOL_TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    with cluster(workdir, database, size=1, env=env) as deployment:
        server = deployment.servers[0]
        async with fresh_connections(server.base_url) as http:
            load = WriteLoad(http, writers=4)
            await load.start()
            await asyncio.sleep(2)
            outage: AbstractAsyncContextManager[int] = (
                postgresql_restart(admin)
                if RESTART_POSTGRES
                else database_outage(admin, database_name)
            )
            async with outage:
                began = time.monotonic()
                await asyncio.sleep(OUTAGE_SECONDS)
                ended = time.monotonic()
            assert load.login is not None
            recovered = await wait_until_serving(http, load.login)
            await asyncio.sleep(2)  # load on the recovered server
            await load.stop()
            after = time.monotonic()

            during = load.outcomes(began + 0.5, ended)
            afterwards = load.outcomes(ended + recovered, after)
            assert server.process.poll() is None  # the same process, never restarted
            assert (await http.get("/readyz")).status_code == 200
            lost = await missing_writes(database, load)
            stale = await check_sequences(load)
    log = server.log()

    REPORT_LINES.append(
        f"stress/outage: {len(load.created)} creates and {load.updates} updates "
        f"acknowledged, {sum(during.values())} calls during the {OUTAGE_SECONDS:.0f}s outage "
        f"({dict(during)}), serving again {recovered:.1f}s after it, "
        f"longest call {load.longest_call():.2f}s"
    )
    # the outage was real: calls failed during it, and only with 503 problems
    assert during["database_unavailable"] > 0, during
    assert set(during) <= {"database_unavailable", "stale_revision"}, during
    errors = load.server_errors()
    assert errors
    for answer in errors:
        assert (answer.status, answer.media_type, answer.code) == (
            503,
            PROBLEM,
            "database_unavailable",
        ), answer
        assert answer.retry_after is not None, answer
        assert int(answer.retry_after) >= 1, answer
    assert load.longest_call() < FAIL_FAST_SECONDS, max(load.calls, key=lambda c: c.seconds)
    # recovered: writes succeed again
    assert afterwards["ok"] > 0, afterwards
    assert set(afterwards) <= {"ok", "stale_revision"}, afterwards  # no 503 any more
    # nothing acknowledged was lost
    assert len(load.created) > 20, load.created
    assert lost == []
    assert stale == []
    errors_logged = [line for line in log.splitlines() if '"level": "ERROR"' in line]
    assert errors_logged == [], errors_logged[:3]
    assert "Traceback" not in log
