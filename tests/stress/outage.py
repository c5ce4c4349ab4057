"""Outages of "our" database, made by the test.

`database_outage()` models what a PostgreSQL restart does to one database:
every session dies (`pg_terminate_backend`) and new connections are refused
(`ALLOW_CONNECTIONS false`, which binds superusers too) until it ends. It
leaves the server and every other database alone, so it can run while other
suites use the same PostgreSQL. `postgresql_restart()` is the real thing
(`pg_ctlcluster … restart`), for CI machines that run nothing else: opt in
with `VAULTAPI_TEST_RESTART_POSTGRES=1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

RESTART_ENV = "VAULTAPI_TEST_RESTART_POSTGRES"
RESTART_POSTGRES = os.environ.get(RESTART_ENV) == "1"
"""Read at import: the suite's autouse fixture hides VAULTAPI_* from tests,
but keeps VAULTAPI_TEST_*; reading it here is explicit either way."""


async def end_sessions(admin: AsyncEngine, database: str) -> int:
    async with admin.connect() as connection:
        ended = await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"
            ),
            {"database": database},
        )
        return len(ended.all())


async def _allow_connections(admin: AsyncEngine, database: str, allow: bool) -> None:
    async with admin.connect() as connection:
        await connection.execute(
            text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allow).lower()}')
        )


@asynccontextmanager
async def database_outage(admin: AsyncEngine, database: str) -> AsyncIterator[int]:
    """Refuse new connections to `database` and end its sessions; yields how
    many sessions were ended. Until the outage ends, sessions are ended again
    every 0.2 s: one whose start raced the refusal must not outlive it.
    Connections are allowed again on exit."""

    async def keep_ending() -> None:
        while True:
            await asyncio.sleep(0.2)
            await end_sessions(admin, database)

    await _allow_connections(admin, database, False)
    ender = asyncio.create_task(keep_ending())
    try:
        yield await end_sessions(admin, database)
    finally:
        ender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ender
        await _allow_connections(admin, database, True)


def _cluster_version() -> str:
    versions = sorted(Path("/etc/postgresql").iterdir())
    return versions[0].name


@asynccontextmanager
async def postgresql_restart(admin: AsyncEngine) -> AsyncIterator[int]:
    """Stop the local PostgreSQL cluster; start it again on exit."""
    await admin.dispose()  # its pooled connections die with the server
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main"]
    await asyncio.to_thread(subprocess.run, [*command, "stop", "-m", "fast"], check=True)
    try:
        yield -1
    finally:
        await asyncio.to_thread(subprocess.run, [*command, "start"], check=True)
