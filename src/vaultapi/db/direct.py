"""Direct database access for the hot paths: login, authenticated reads and item writes.

Why not the ORM there: measured on the bench machine, an ORM statement costs
about 0.36 ms of CPU and an `AsyncSession` begin + commit about 0.65 ms, while
the same statement on the asyncpg connection itself costs about 0.09 ms. A
login is a dozen statements; an item read is two. So the repositories of those
paths take a `Db` instead of an `AsyncSession`:

- PostgreSQL: the pooled asyncpg connection (checked out of the engine's own
  pool, so there is still one pool per worker), statements written as
  SQLAlchemy Core, compiled once to asyncpg's `$n` SQL and run as prepared
  statements (asyncpg caches them per connection). A read-only `Db` runs
  without BEGIN/COMMIT; a writing one opens its transaction at the first
  statement and commits when the request's dependency ends, before the
  response is sent: exactly one commit per request, as everywhere else.
- SQLite (the embedded mode, one machine): the same Core statements through a
  SQLAlchemy `AsyncConnection`, with the engine's usual BEGIN IMMEDIATE.
- Inside a request that already has an ORM session (`Db.of_session`): the
  same statements through that session, in its transaction. So a repository
  written for `Db` has one copy of its SQL, whoever calls it.

Rows come back as mappings (column name → value) with the same Python types on
both databases: UUIDs, aware UTC datetimes, bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, cast

import asyncpg
from sqlalchemy import CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import Compiled

from vaultapi.db.greenlets import run_sync
from vaultapi.errors import DatabaseUnreachable, is_connection_lost

Row = Mapping[str, Any]

# What asyncpg raises when the connection, not our SQL, is the problem.
# InternalClientError: the protocol is in no state to run a statement, as when
# the server's "terminating connection" arrived between two statements.
_OUTAGES = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InternalClientError,
)


class Query:
    """A Core statement with named `bindparam`s, compiled for asyncpg once.

    Give the statement itself, or a function of the dialect name that builds
    it (for `INSERT … ON CONFLICT`, whose construct differs per dialect).
    Build statements on Core tables, not ORM entities, so that the ORM session
    path runs them as plain Core too."""

    __slots__ = ("_asyncpg", "_build", "_statements")

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self._build = statement if callable(statement) else (lambda _dialect: statement)
        self._statements: dict[str, Executable] = {}
        self._asyncpg: tuple[str, tuple[str, ...], dict[str, Any]] | None = None

    def statement(self, dialect_name: str) -> Executable:
        found = self._statements.get(dialect_name)
        if found is None:
            found = self._statements[dialect_name] = self._build(dialect_name)
        return found

    def asyncpg_sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The `$n` SQL, the parameter names in `$n` order, and the values of
        parameters the statement carries itself (literals in `values()`)."""
        if self._asyncpg is None:
            statement = cast(ClauseElement, self.statement(dialect.name))
            compiled: Compiled = statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
            self._asyncpg = (str(compiled), names, dict(compiled.params))
        return self._asyncpg


async def _end(transaction: Any, *, commit: bool) -> None:
    """Commit or roll back inside a coroutine, so that `Db._guarded` also sees
    what asyncpg raises at the call (a connection already closed)."""
    await (transaction.commit() if commit else transaction.rollback())


class Db:
    """One request's direct database access (see the module docstring).
    `write=True`: one transaction, ended by `close(commit=...)`."""

    def __init__(
        self, engine: AsyncEngine, *, write: bool, session: AsyncSession | None = None
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.is_postgresql = engine.dialect.name == "postgresql"
        self.write = write
        self._session = session
        self._connection: AsyncConnection | None = None
        """SQLite: statements go through SQLAlchemy."""
        self._pooled: PoolProxiedConnection | None = None
        """PostgreSQL: the pool's connection, whose asyncpg connection runs the statements."""
        self._asyncpg: asyncpg.Connection | None = None
        self._transaction: Any = None
        self._autocommit = False
        self._broken = False

    def autocommit(self) -> None:
        """From here on, each statement commits on its own, unless one has
        already opened this request's transaction (PostgreSQL; SQLite keeps
        its one transaction). For a request whose statements are each atomic
        alone and hold no lock across each other: no BEGIN and COMMIT, two
        round trips fewer. A failure then keeps what earlier statements did."""
        if not self._connected:
            self._autocommit = True

    @property
    def on_asyncpg(self) -> bool:
        """Statements go to asyncpg as compiled here (PostgreSQL, no ORM
        session). Only then do multi-table statements of data-modifying CTEs
        run as written: SQLAlchemy's own execution would add the parameters
        named like columns to the DML inside them."""
        return self.is_postgresql and self._session is None

    @classmethod
    @contextlib.asynccontextmanager
    async def reading(cls, engine: AsyncEngine) -> AsyncIterator[Db]:
        """A read-only `Db` for the length of a `with` block."""
        db = cls(engine, write=False)
        try:
            yield db
        finally:
            await db.close(commit=False)

    @classmethod
    def of_session(cls, session: AsyncSession) -> Db:
        """Statements through `session`, in its transaction (which it commits)."""
        engine = session.bind
        assert isinstance(engine, AsyncEngine)  # noqa: S101 - our sessionmaker binds the engine
        return cls(engine, write=True, session=session)

    @property
    def _connected(self) -> bool:
        return self._session is not None or self._connection is not None or self._pooled is not None

    async def _connect(self) -> None:
        if not self.is_postgresql:
            self._connection = await self.engine.connect()
            return
        # The pool's own connection, without an `AsyncConnection` around it:
        # that wrapper costs a third greenlet switch and a `Connection` object
        # per request (callgrind: 55 K of a prelogin's 1.48 M instructions),
        # and the direct path runs nothing through it. Checked out in a kept
        # greenlet, as `AsyncEngine.raw_connection` would in a new one
        # (`vaultapi.db.greenlets`).
        try:
            self._pooled = await run_sync(self.engine.sync_engine.raw_connection)
        except self.dialect.loaded_dbapi.Error as exc:
            # What the checkout itself raised in the driver adapter's own
            # terms (a `pool_pre_ping` that failed otherwise than by a lost
            # connection); `AsyncConnection` used to wrap it in `DBAPIError`.
            raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
        self._asyncpg = self._pooled.driver_connection
        if self.write and not self._autocommit:
            self._transaction = self._asyncpg.transaction()  # type: ignore[union-attr]
            await self._transaction.start()

    async def _through_sqlalchemy(self, query: Query, params: dict[str, Any]) -> CursorResult[Any]:
        statement = query.statement(self.dialect.name)
        if self._session is not None:
            return cast(CursorResult[Any], await self._session.execute(statement, params))
        assert self._connection is not None  # noqa: S101 - connected by the caller
        return await self._connection.execute(statement, params)

    def _asyncpg_call(self, query: Query, params: dict[str, Any]) -> tuple[str, list[Any]]:
        sql, names, own = query.asyncpg_sql(self.dialect)
        return sql, [params[name] if name in params else own[name] for name in names]

    async def fetch(self, query: Query, **params: Any) -> Sequence[Row]:
        """The rows a SELECT or a `RETURNING` statement answers."""
        if not self._connected:
            await self._guarded(self._connect())
        if self._asyncpg is not None:
            sql, args = self._asyncpg_call(query, params)
            rows = await self._guarded(self._asyncpg.fetch(sql, *args))
            return cast(Sequence[Row], rows)
        result = await self._through_sqlalchemy(query, params)
        return list(cast(Any, result.mappings())) if result.returns_rows else []

    async def fetchrow(self, query: Query, **params: Any) -> Row | None:
        rows = await self.fetch(query, **params)
        return rows[0] if rows else None

    async def execute(self, query: Query, **params: Any) -> int:
        """Run an INSERT, UPDATE or DELETE without `RETURNING`: the rows it touched."""
        if not self._connected:
            await self._guarded(self._connect())
        if self._asyncpg is not None:
            sql, args = self._asyncpg_call(query, params)
            status: str = await self._guarded(self._asyncpg.execute(sql, *args))
            return int(status.rsplit(" ", 1)[-1])  # "UPDATE 3", "INSERT 0 1", …
        return int((await self._through_sqlalchemy(query, params)).rowcount or 0)

    async def close(self, *, commit: bool) -> None:
        """End the transaction (commit or roll back) and give the connection
        back; a connection left in an unknown state is discarded instead."""
        if self._pooled is not None:
            await self._close_pooled(self._pooled, commit=commit)
            return
        connection = self._connection
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await (connection.commit() if commit and self.write else connection.rollback())
        finally:
            self._connection = None
            if self._broken:
                await connection.invalidate()
            await connection.close()

    async def _close_pooled(self, pooled: PoolProxiedConnection, *, commit: bool) -> None:
        try:
            if self._transaction is not None:
                transaction, self._transaction = self._transaction, None
                # A connection lost mid-request has no transaction left to end
                # (asyncpg refuses the call itself): it is only discarded, and
                # a commit asked of it is an outage, never a silent success.
                if not self._broken:
                    await self._guarded(_end(transaction, commit=commit))
                elif commit:
                    raise DatabaseUnreachable("the connection was lost before the commit")
        finally:
            self._pooled = self._asyncpg = None
            # In a greenlet, as `AsyncConnection.close` does it: the pool's
            # reset may await the driver. `invalidate` closes the asyncpg
            # connection and gives its slot back.
            await run_sync(pooled.invalidate if self._broken else pooled.close)

    async def _guarded(self, operation: Any) -> Any:
        """Await an asyncpg operation. An error of PostgreSQL's own leaves the
        connection usable (a rollback follows); anything else (lost
        connection, timeout, cancellation) may leave it mid-protocol, so it
        is not given back to the pool. Outages become `DatabaseUnreachable`
        (503); PostgreSQL's own timeouts and conflicts stay asyncpg errors,
        which `vaultapi.errors` answers with 503 too."""
        try:
            return await operation
        except asyncpg.PostgresError as exc:
            # The server ending the session (admin shutdown, restart, crash)
            # arrives as an error of its own mid-statement, not as a lost socket.
            if isinstance(exc, asyncpg.PostgresConnectionError) or is_connection_lost(exc.sqlstate):
                self._broken = True
                raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
            raise
        except _OUTAGES as exc:
            self._broken = True
            raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            self._broken = True
            raise
