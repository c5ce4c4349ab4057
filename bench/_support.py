"""Shared by the benchmarks: a fresh PostgreSQL database and real workers."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import databases
from tests.support.servers import RunningServer, running_server

UNLIMITED = "100000000"


async def _admin(action: Callable[[AsyncEngine, str], Awaitable[None]], name: str) -> None:
    admin = databases.admin_engine()
    try:
        await action(admin, name)
    finally:
        await admin.dispose()


@contextmanager
def server_on_fresh_postgres(workers: int, prefix: str) -> Iterator[RunningServer]:
    """`vaultapi serve --workers N` on a new database, dropped afterwards.
    Per-IP limits are lifted: every request comes from this one process."""
    name = databases.new_database_name(prefix)
    asyncio.run(_admin(databases.create_database, name))
    env = {
        "VAULTAPI_DATABASE_URL": databases.with_database(databases.admin_url(), name),
        "VAULTAPI_DATABASE__AUTO_MIGRATE": "true",
        "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": UNLIMITED,
        "VAULTAPI_ABUSE__IP_REGISTRATIONS_PER_WINDOW": UNLIMITED,
        "VAULTAPI_LOG__LEVEL": "WARNING",
    }
    try:
        with (
            tempfile.TemporaryDirectory() as workdir,
            running_server(Path(workdir), env=env, args=["--workers", str(workers)]) as server,
        ):
            yield server
    finally:
        asyncio.run(_admin(databases.drop_database, name))


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"\n{title}")
    print(f"| {'metric'.ljust(width)} | value | target | result |")
    print(f"|{'-' * (width + 2)}|-------|--------|--------|")
    for metric, value, target, result in rows:
        print(f"| {metric.ljust(width)} | {value} | {target} | {result} |")
