"""Engine and session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite).

SQLite gets the transaction recipe from SQLAlchemy's aiosqlite documentation:
the driver's own implicit BEGIN is switched off and we emit `BEGIN IMMEDIATE`
when a transaction starts. Why IMMEDIATE: SQLite allows one writer; a deferred
transaction that reads and then writes can fail with SQLITE_BUSY when it tries
to upgrade its lock, which would surface as a 500 where PostgreSQL gives a
clean conflict. Taking the write lock up front makes concurrent requests wait
(up to the busy timeout) instead. The embedded mode is for one machine and
modest load; PostgreSQL is the production database.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

from vaultapi.config import DatabaseSettings
from vaultapi.errors import ConfigurationError, DatabaseUnreachable

_DRIVERS = {"postgresql": "asyncpg", "postgres": "asyncpg", "sqlite": "aiosqlite"}


def normalize_database_url(raw: str) -> str:
    """Map `postgresql://` / `postgres://` / `sqlite://` to their async drivers."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a non-numeric port
        raise ConfigurationError([f"VAULTAPI_DATABASE_URL is not a database URL: {exc}"]) from exc
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigurationError(
            [f"VAULTAPI_DATABASE_URL uses {backend!r}: only PostgreSQL and SQLite are supported"]
        )
    driver = _DRIVERS[backend]
    if "+" in url.drivername and url.drivername.split("+", 1)[1] != driver:
        hint = f"use {backend}+{driver} or no driver"
        raise ConfigurationError([f"VAULTAPI_DATABASE_URL driver {url.drivername!r}: {hint}"])
    name = "postgresql" if backend == "postgres" else backend
    return url.set(drivername=f"{name}+{driver}").render_as_string(hide_password=False)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    """`hide_parameters`: SQL parameters are verifiers and ciphertext; they must
    not reach a log line through an exception's text."""
    if is_sqlite(url):
        return _create_sqlite_engine(url, settings)
    return create_async_engine(
        url,
        echo=settings.echo,
        hide_parameters=True,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        pool_pre_ping=settings.pool_pre_ping,
        async_creator=_asyncpg_connector(url, settings),
    )


# Everything asyncpg.connect raises when it cannot open a session: socket
# errors, timeouts, and server refusals (auth, unknown database, too many
# connections, starting up or shutting down).
_CONNECT_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _asyncpg_connector(url: str, settings: DatabaseSettings) -> Callable[[], Awaitable[Any]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def connect() -> Any:
        try:
            return await asyncpg.connect(
                dsn,
                timeout=settings.connect_timeout_seconds,
                server_settings={
                    "application_name": "vaultapi",
                    "statement_timeout": _milliseconds(settings.statement_timeout_seconds),
                    "lock_timeout": _milliseconds(settings.lock_timeout_seconds),
                },
            )
        except _CONNECT_FAILURES as exc:
            raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc

    return connect


def _milliseconds(seconds: float) -> str:
    """A PostgreSQL timeout setting: 0 stays 0 (no limit); anything else is at
    least 1 ms, so that a tiny positive value never turns into "no limit"."""
    return "0" if seconds == 0 else str(max(1, round(seconds * 1000)))


def _create_sqlite_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=settings.echo,
        hide_parameters=True,
        pool_timeout=settings.pool_timeout_seconds,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
    )
    busy_timeout = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout}")
        cursor.close()
        # PostgreSQL compares addresses with `inet <<= cidr`; SQLite gets the
        # same test as a function (see `db.repositories.sql_ip_in_network`).
        dbapi_connection.create_function(
            "vaultapi_ip_in_network", 2, ip_in_network, deterministic=True
        )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, reset_state: PoolResetState) -> None:
        # A COMMIT that fails on a deferred constraint leaves SQLite's
        # transaction open, while SQLAlchemy considers it ended and skips the
        # pool's rollback. Without this, the next request to get this
        # connection would fail with "cannot start a transaction within a
        # transaction". (PostgreSQL ends the transaction itself.)
        if reset_state.transaction_was_reset and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    return engine


def ip_in_network(address: object, network: object) -> int:
    """1 when `address` lies in `network` (both text), else 0; junk is 0."""
    try:
        ip = ipaddress.ip_address(str(address))
        net = ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return 0
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return int(ip.version == net.version and ip in net)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
