"""Migrations run up and down on both databases, and agree with the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from vaultapi.config import DatabaseSettings
from vaultapi.db import migrate
from vaultapi.db.base import NAMING_CONVENTION, metadata
from vaultapi.db.engine import create_engine

VERSIONS = Path(migrate.__file__).parent.parent / "migrations" / "versions"
FILE_NAME = re.compile(r"^(\d{4})_(\d{2})_(\d{2})_(\d{4})-([0-9a-f]{12})_[a-z0-9_]+\.py$")


def schema_diff(engine_metadata: MetaData) -> object:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={"compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, engine_metadata))

    return diff


async def diff_against(engine: AsyncEngine, target: MetaData) -> list[object]:
    async with engine.connect() as connection:
        result: list[object] = await connection.run_sync(schema_diff(target))  # type: ignore[arg-type]
        return result


@pytest.fixture
async def engine(database_url: str) -> AsyncEngine:
    """The session's migrated database, on the current backend."""
    return create_engine(database_url, DatabaseSettings())


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    try:
        assert await diff_against(engine, metadata) == []
    finally:
        await engine.dispose()


async def test_the_agreement_check_sees_a_model_without_a_migration(engine: AsyncEngine) -> None:
    """Negative control: a table in the models but not in the migrations is reported."""
    drifted = MetaData(naming_convention=NAMING_CONVENTION)
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    Table("not_migrated", drifted, Column("id", Integer, primary_key=True))
    try:
        diff = await diff_against(engine, drifted)
    finally:
        await engine.dispose()
    assert any("not_migrated" in str(entry) for entry in diff)


async def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url, DatabaseSettings())
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        tables_at_head = await _tables(engine)

        await migrate.downgrade(engine, "base")
        assert await migrate.current_revisions(engine) == frozenset()
        assert await _tables(engine) <= {"alembic_version"}

        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert await _tables(engine) == tables_at_head
        assert await diff_against(engine, metadata) == []
    finally:
        await engine.dispose()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names: list[str] = await connection.run_sync(lambda c: inspect(c).get_table_names())
        return set(names)


def test_revision_files_are_date_ordered_and_form_one_chain() -> None:
    files = sorted(p.name for p in VERSIONS.glob("*.py") if p.name != "__init__.py")
    assert files, "no migrations found"
    for name in files:
        assert FILE_NAME.match(name), f"{name} does not follow YYYY_MM_DD_HHMM-<rev>_<slug>.py"

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1, "migrations have branched: merge the heads"
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    by_date = [FILE_NAME.match(name).group(5) for name in files]  # type: ignore[union-attr]
    assert chain == by_date, "file dates disagree with the revision chain"
