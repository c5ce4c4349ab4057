"""A slow, locked or vanishing PostgreSQL is a bounded 503, never a hang or a 500.

Every request connection carries `statement_timeout` and `lock_timeout`
(`database.statement_timeout_seconds`, `database.lock_timeout_seconds`), so a
stuck database cannot hold a pooled connection, and the request behind it,
for ever; what PostgreSQL cancels is answered 503 `database_unavailable` with
`Retry-After`. A session the server ends mid-statement (`pg_terminate_backend`,
a restart) is an outage on both the ORM path and the direct path
(`vaultapi.db.direct`). Migrations run without the request timeouts. The
same behaviour under load, through real processes, is in `tests/stress/`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, literal, select, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.conftest import ClientFactory
from tests.support import databases
from vaultapi.api.deps import ReaderDep, SessionDep
from vaultapi.config import DatabaseSettings
from vaultapi.db import migrate
from vaultapi.db.direct import Db, Query
from vaultapi.db.engine import create_engine
from vaultapi.errors import DatabaseUnreachable, is_database_outage, is_database_timeout

PROBLEM = "application/problem+json"
SLEEP = Query(select(func.pg_sleep(10)))
"""Far longer than any timeout below: a request that waits it out has failed."""
BOUND_SECONDS = 8.0
"""Generous on a loaded CI machine, and still well under the 10 s sleep."""


def add_routes(app: FastAPI) -> None:
    @app.get("/v1/_test/timeouts")
    async def timeouts(session: SessionDep) -> dict[str, str]:
        statement = (await session.execute(text("SHOW statement_timeout"))).scalar_one()
        lock = (await session.execute(text("SHOW lock_timeout"))).scalar_one()
        return {"statement_timeout": statement, "lock_timeout": lock}

    @app.get("/v1/_test/sleep/orm")
    async def sleep_orm(session: SessionDep) -> None:
        await session.execute(select(func.pg_sleep(10)))

    @app.get("/v1/_test/sleep/direct")
    async def sleep_direct(db: ReaderDep) -> None:
        await db.fetch(SLEEP)

    @app.get("/v1/_test/leases/orm")
    async def leases_orm(session: SessionDep) -> dict[str, int]:
        count = (await session.execute(text("SELECT count(*) FROM leases"))).scalar_one()
        return {"count": count}

    @app.get("/v1/_test/leases/direct")
    async def leases_direct(db: ReaderDep) -> dict[str, int]:
        row = await db.fetchrow(Query(select(func.count()).select_from(text("leases"))))
        assert row is not None
        return {"count": int(next(iter(row.values())))}


@pytest.fixture
async def admin() -> AsyncIterator[AsyncEngine]:
    engine = databases.admin_engine()
    try:
        yield engine
    finally:
        await engine.dispose()


def assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["detail"] == "The database is too busy to answer in time; retry later"
    assert response.headers["retry-after"] == "2"


async def timed_get(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    """The response and how long it took; a request that hangs fails the test
    (the in-process transport has no timeout of its own)."""
    started = time.monotonic()
    response = await asyncio.wait_for(http.get(path), timeout=2 * BOUND_SECONDS)
    return response, time.monotonic() - started


# -- settings -----------------------------------------------------------------


def test_the_timeouts_have_bounded_defaults() -> None:
    settings = DatabaseSettings()
    assert settings.statement_timeout_seconds == 30.0
    assert settings.lock_timeout_seconds == 10.0
    assert DatabaseSettings(statement_timeout_seconds=0, lock_timeout_seconds=0)  # 0: no limit


@pytest.mark.parametrize("field", ["statement_timeout_seconds", "lock_timeout_seconds"])
@pytest.mark.parametrize("value", [-1, 3601])
def test_out_of_range_timeouts_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        DatabaseSettings.model_validate({field: value})


async def test_request_connections_carry_the_configured_timeouts(
    make_postgresql_client: ClientFactory,
) -> None:
    settings: dict[str, Any] = {"statement_timeout_seconds": 1.5, "lock_timeout_seconds": 0}
    async with make_postgresql_client(app_hook=add_routes, database=settings) as http:
        response = await http.get("/v1/_test/timeouts")
    assert response.status_code == 200, response.text
    assert response.json() == {"statement_timeout": "1500ms", "lock_timeout": "0"}


# -- a slow database ------------------------------------------------------------


@pytest.mark.parametrize("path", ["orm", "direct"])
async def test_a_statement_over_the_timeout_is_a_bounded_503(
    make_postgresql_client: ClientFactory, path: str
) -> None:
    settings = {"statement_timeout_seconds": 0.3}
    async with make_postgresql_client(app_hook=add_routes, database=settings) as http:
        response, took = await timed_get(http, f"/v1/_test/sleep/{path}")
        assert_busy(response)
        assert took < BOUND_SECONDS
        # the cancelled statement left its connection usable: the next request works
        after = await http.get("/v1/_test/leases/orm")
        assert after.status_code == 200, after.text


async def hold_lock(connection: AsyncConnection, table: str) -> None:
    await connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))


@pytest.mark.parametrize("path", ["orm", "direct"])
async def test_a_lock_held_too_long_is_a_bounded_503(
    make_postgresql_client: ClientFactory, postgresql_url: str, path: str
) -> None:
    settings = {"lock_timeout_seconds": 0.3, "statement_timeout_seconds": 20}
    holder = create_engine(postgresql_url, DatabaseSettings())
    try:
        async with make_postgresql_client(app_hook=add_routes, database=settings) as http:
            async with holder.connect() as connection:
                await hold_lock(connection, "leases")
                response, took = await timed_get(http, f"/v1/_test/leases/{path}")
                await connection.rollback()
            assert_busy(response)
            assert took < BOUND_SECONDS
            after = await http.get(f"/v1/_test/leases/{path}")
            assert after.status_code == 200, after.text
    finally:
        await holder.dispose()


# -- the server ends the session mid-statement ---------------------------------


async def terminate_when_sleeping(admin: AsyncEngine, database: str) -> int:
    """Wait until the app's connection runs `pg_sleep`, then end its session
    the way a restart or an operator does. Returns how many were ended."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with admin.connect() as connection:
            ended = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :database AND query LIKE '%pg_sleep%' "
                    "AND pid <> pg_backend_pid() AND application_name = 'vaultapi'"
                ),
                {"database": database},
            )
            count = len(ended.all())
        if count:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError("the request never reached its statement")


@pytest.mark.parametrize("path", ["orm", "direct"])
async def test_a_session_ended_by_the_server_mid_statement_is_a_503(
    make_postgresql_client: ClientFactory, postgresql_url: str, admin: AsyncEngine, path: str
) -> None:
    """`terminating connection due to administrator command` (57P01) arrives as
    an error of its own, not as a lost socket: before this was handled, the
    direct path answered it with a 500."""
    database = make_url(postgresql_url).database
    assert database is not None
    async with make_postgresql_client(app_hook=add_routes) as http:
        request = asyncio.create_task(timed_get(http, f"/v1/_test/sleep/{path}"))
        assert await terminate_when_sleeping(admin, database) == 1
        response, took = await request
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["retry-after"] == "5"
        assert took < BOUND_SECONDS
        # the dead connection was not given back to the pool
        for _ in range(3):
            after = await http.get(f"/v1/_test/leases/{path}")
            assert after.status_code == 200, after.text


async def test_the_server_ending_the_session_is_an_outage_whichever_way_it_arrives(
    postgresql_url: str,
) -> None:
    """Which error a terminated session raises depends on timing: a lost
    socket, or PostgreSQL's own FATAL message (57P01) read just before it.
    The real termination above may meet either; here the second, for certain."""
    ended = asyncpg.AdminShutdownError("terminating connection due to administrator command")
    assert is_database_outage(ended)
    assert not is_database_timeout(ended)
    assert is_database_timeout(asyncpg.QueryCanceledError("canceling statement due to timeout"))
    assert is_database_timeout(asyncpg.LockNotAvailableError("lock timeout"))
    for bug in (asyncpg.UndefinedTableError("no such table"), asyncpg.UniqueViolationError("x")):
        assert not is_database_outage(bug)
        assert not is_database_timeout(bug)

    async def fails() -> None:
        raise ended

    engine = create_engine(postgresql_url, DatabaseSettings())
    try:
        db = Db(engine, write=True)
        with pytest.raises(DatabaseUnreachable):
            await db._guarded(fails())
        assert db._broken  # so its connection is not given back to the pool

        async def confused() -> None:
            # The FATAL message read while the connection sat between two
            # statements leaves asyncpg's protocol unable to run the next one.
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation")

        db = Db(engine, write=True)
        with pytest.raises(DatabaseUnreachable):
            await db._guarded(confused())
        assert db._broken
    finally:
        await engine.dispose()


async def test_a_writing_request_whose_connection_died_ends_without_an_error(
    postgresql_url: str,
) -> None:
    """A lost connection's transaction cannot be ended: asyncpg refuses the call
    itself. Closing the request must discard the connection quietly; raising
    that refusal hid the 503 behind a 500 (seen on item writes under the outage
    stress test)."""
    engine = create_engine(postgresql_url, DatabaseSettings())
    probe = Query(select(literal(1).label("one")))
    try:
        db = Db(engine, write=True)
        await db.fetch(probe)
        assert db._asyncpg is not None
        db._asyncpg.terminate()  # the socket is gone, as when PostgreSQL goes away
        with pytest.raises(DatabaseUnreachable):
            await db.fetch(probe)
        await db.close(commit=False)
        lost_before_commit = Db(engine, write=True)
        await lost_before_commit.fetch(probe)
        assert lost_before_commit._asyncpg is not None
        lost_before_commit._asyncpg.terminate()
        with pytest.raises(DatabaseUnreachable):
            await lost_before_commit.fetch(probe)
        with pytest.raises(DatabaseUnreachable):  # never a silent success
            await lost_before_commit.close(commit=True)
        async with Db.reading(engine) as fresh:  # the pool serves a live connection
            row = await fresh.fetchrow(probe)
            assert row is not None
            assert row["one"] == 1
    finally:
        await engine.dispose()


async def test_a_checkout_whose_ping_fails_is_an_outage(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `pool_pre_ping`, a ping that fails otherwise than by a lost
    connection reaches `Db` as the driver adapter's own error (no
    `AsyncConnection` wraps the checkout): it is a 503, never a 500. The ping is
    made to fail inside SQLAlchemy's asyncpg adapter, as PostgreSQL ending the
    session by an administrator's command would make it fail."""
    adapter = AsyncAdapt_asyncpg_connection
    real_ping: Any = adapter._async_ping
    failing = {"next": False}

    async def ping(self: Any) -> None:
        if failing["next"]:
            failing["next"] = False
            raise asyncpg.AdminShutdownError("terminating connection due to administrator command")
        await real_ping(self)

    monkeypatch.setattr(adapter, "_async_ping", ping)
    engine = create_engine(postgresql_url, DatabaseSettings(pool_size=1, pool_pre_ping=True))
    probe = Query(select(literal(1).label("one")))
    try:
        async with Db.reading(engine) as warm:  # the pool now holds a connection to ping
            await warm.fetch(probe)
        failing["next"] = True
        db = Db(engine, write=False)
        with pytest.raises(DatabaseUnreachable):
            await db.fetch(probe)
        await db.close(commit=False)
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with Db.reading(engine) as fresh:
            assert await fresh.fetchrow(probe) is not None
    finally:
        await engine.dispose()


# -- migrations ------------------------------------------------------------------


async def test_migrations_run_without_the_request_timeouts(postgresql_url: str) -> None:
    """A migration waits for its locks as long as it must (here: a lock on the
    version table, held for a second), where a request would give up."""
    strict = DatabaseSettings(statement_timeout_seconds=0.2, lock_timeout_seconds=0.1)
    engine = create_engine(postgresql_url, strict)
    holder = create_engine(postgresql_url, DatabaseSettings())
    try:
        async with holder.connect() as connection:
            await hold_lock(connection, migrate.VERSION_TABLE)
            upgrade = asyncio.create_task(migrate.upgrade(engine))
            await asyncio.sleep(1.0)
            assert not upgrade.done(), upgrade  # waiting for the lock, not failed
            await connection.rollback()
        await asyncio.wait_for(upgrade, timeout=30)
    finally:
        await engine.dispose()
        await holder.dispose()
