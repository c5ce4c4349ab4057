"""Alembic environment, async.

Called two ways: from `vaultapi.db.migrate` with a live connection in
`config.attributes["connection"]` (the server's start-up and `vaultapi db
upgrade`), or by the `alembic` command line, which gets the URL from
`sqlalchemy.url` or else from the application settings.
"""

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection
from sqlmodel.sql.sqltypes import AutoString

from vaultapi.config import DatabaseSettings, Settings
from vaultapi.db.engine import create_engine
from vaultapi.db.models import metadata
from vaultapi.db.types import UTCDateTime
from vaultapi.storage import prepare_database_storage

config = context.config


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url if url else Settings().effective_database_url()


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types in migration scripts, so
    that a migration never imports application code that may change later."""
    if type_ == "type":
        if isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        if isinstance(obj, AutoString):
            return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER support on SQLite
        compare_type=True,
        compare_server_default=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    url = _database_url()
    if not config.get_main_option("sqlalchemy.url"):
        prepare_database_storage(Settings())
    engine = create_engine(url, DatabaseSettings())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_with_own_engine())
    else:
        _run(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
