"""Alembic glue: run migrations from code, and read the schema's revision.

The migration scripts ship inside the package (`vaultapi/migrations`), so an
installed wheel or a container image can migrate without the source tree.
The repository's `alembic.ini` points at the same place for developers who
run `alembic revision --autogenerate` directly.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vaultapi.db.backfills import run_fills

SCRIPT_LOCATION = "vaultapi:migrations"
VERSION_TABLE = "alembic_version"
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", FILE_TEMPLATE)
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


def _downgrade(connection: Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, target)


async def _without_request_timeouts(connection: AsyncConnection) -> None:
    """Requests get a `statement_timeout` and `lock_timeout` (see
    `DatabaseSettings`); a migration may rewrite a large table, so its
    transaction runs without them, as an operator's `psql` session would."""
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        await connection.exec_driver_sql("SET LOCAL lock_timeout = 0")


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Migrate to `target` in one transaction; then, if the database is at
    the head revision, run the data fills (`vaultapi.db.backfills`), each in
    transactions of its own."""
    async with engine.begin() as connection:
        await _without_request_timeouts(connection)
        await connection.run_sync(_upgrade, target)
    if await current_revisions(engine) == head_revisions():
        await run_fills(engine)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as connection:
        await _without_request_timeouts(connection)
        await connection.run_sync(_downgrade, target)


def _current(connection: Connection) -> frozenset[str]:
    # Read the version table directly: MigrationContext would log two INFO
    # lines on every call, and `/readyz` calls this on every probe.
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return frozenset(row[0] for row in rows)


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
