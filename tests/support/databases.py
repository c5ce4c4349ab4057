"""Test databases: a throwaway PostgreSQL database and an SQLite file per run.

Each run creates its own PostgreSQL database on the server named by
`VAULTAPI_TEST_DATABASE_URL` (default: the local server as user postgres),
migrates it with Alembic once (which also tests the migrations), and drops it
at the end.

Isolation between tests is by emptying every table after each test, not by a
rolled-back outer transaction: the app must run its real commit path, and
later race tests need several connections that see each other's commits.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import quote

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from vaultapi.db.base import metadata
from vaultapi.db.engine import normalize_database_url

TEST_DATABASE_ENV = "VAULTAPI_TEST_DATABASE_URL"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START_HINT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
    f"or point {TEST_DATABASE_ENV} at a server where the user may CREATE DATABASE"
)


def admin_url() -> str:
    return normalize_database_url(os.environ.get(TEST_DATABASE_ENV, DEFAULT_TEST_DATABASE_URL))


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def new_database_name(prefix: str = "vaultapi_test") -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def admin_engine() -> AsyncEngine:
    """Pre-ping: a pooled connection may predate a restart of the server
    (tests/stress with VAULTAPI_TEST_RESTART_POSTGRES=1)."""
    return create_async_engine(admin_url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


async def create_database(admin: AsyncEngine, name: str) -> None:
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))


async def drop_database(admin: AsyncEngine, name: str) -> None:
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{quote(path)}"


async def empty_all_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        existing = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        tables = [t.name for t in reversed(metadata.sorted_tables) if t.name in existing]
        if not tables:
            return
        if engine.dialect.name == "postgresql":
            # The app's engine may carry a test's deliberately tiny timeouts.
            await connection.execute(text("SET LOCAL statement_timeout = 0"))
            await connection.execute(text("SET LOCAL lock_timeout = 0"))
            names = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608
