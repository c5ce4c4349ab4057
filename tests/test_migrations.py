"""Migrations run up and down on both databases, and agree with the models."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Uuid,
    bindparam,
    column,
    inspect,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from vaultapi.config import DatabaseSettings
from vaultapi.crypto import srp
from vaultapi.db import backfills, migrate
from vaultapi.db.base import NAMING_CONVENTION, metadata
from vaultapi.db.engine import create_engine
from vaultapi.db.models import Account
from vaultapi.db.types import UTCDateTime

VERSIONS = Path(migrate.__file__).parent.parent / "migrations" / "versions"
_TYPES: dict[str, Any] = {
    "id": Uuid(),
    "kdf_salt": LargeBinary(),
    "srp_salt": LargeBinary(),
    "srp_verifier": LargeBinary(),
    "created_at": UTCDateTime(),
    "updated_at": UTCDateTime(),
}
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
    for model_table in metadata.tables.values():
        model_table.to_metadata(drifted)
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


async def test_the_verifier_powers_revision_fills_the_accounts_that_exist(
    empty_database_url: str,
) -> None:
    """Accounts registered before revision 3b9d0c7e5a41 get their verifier's
    powers (`vaultapi.crypto.comb`) when `migrate.upgrade` reaches the head:
    not in the revision's own transaction (which only adds the column), but
    in batches after it (`vaultapi.db.backfills`), more than one here. A row
    whose verifier is not a group element is left as it is; a second fill
    finds nothing to do."""
    engine = create_engine(empty_database_url, DatabaseSettings())
    accounts = table(
        "accounts",
        *(
            column(name)
            for name in (
                "id", "email", "role", "status", "kdf_algorithm", "kdf_memory_kib",
                "kdf_iterations", "kdf_parallelism", "kdf_salt", "srp_salt", "srp_verifier",
                "protected_account_key", "public_key", "protected_private_key", "created_at",
                "updated_at",
            )
        ),
    )  # fmt: skip
    count = 501  # the revision's batch is 500
    verifiers = [srp.compute_verifier(f"u{i}@example.com", "pw", bytes(16)) for i in range(count)]
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(), "email": f"u{i}@example.com", "role": "user", "status": "active",
            "kdf_algorithm": "argon2id", "kdf_memory_kib": 65536, "kdf_iterations": 3,
            "kdf_parallelism": 4, "kdf_salt": bytes(16), "srp_salt": bytes(16),
            "srp_verifier": verifier.to_bytes(srp.N_BYTES, "big"), "protected_account_key": "k",
            "public_key": "p", "protected_private_key": "k", "created_at": now, "updated_at": now,
        }
        for i, verifier in enumerate([*verifiers, 1])  # the last one: not a group element
    ]  # fmt: skip
    try:
        await migrate.upgrade(engine, "8e2370e9727b")
        async with engine.begin() as connection:
            await connection.execute(
                accounts.insert().values(
                    {name: bindparam(name, type_=_TYPES.get(name)) for name in rows[0]}
                ),
                rows,
            )
        async with engine.begin() as connection:  # the revision alone
            await connection.run_sync(migrate._upgrade, "3b9d0c7e5a41")
        assert set((await _powers(engine)).values()) == {None}
        await migrate.upgrade(engine, "3b9d0c7e5a41")  # at the head: named, not "head"
        found = await _powers(engine)
        assert await backfills.fill_verifier_powers(engine) == 0
    finally:
        await engine.dispose()
    assert len(found) == count + 1
    for i, verifier in enumerate(verifiers):
        assert found[f"u{i}@example.com"] == srp.verifier_powers(verifier), i
    assert found[f"u{count}@example.com"] is None


async def test_a_fill_that_fails_is_logged_not_raised(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The schema is what an upgrade must get right; a fill that stops (here:
    no accounts table at all) leaves its rows to the next upgrade or to the
    request that needs them, and must not fail the release."""
    engine = create_engine(empty_database_url, DatabaseSettings())
    try:
        with caplog.at_level(logging.WARNING, logger="vaultapi.db.backfills"):
            await backfills.run_fills(engine)
    finally:
        await engine.dispose()
    assert any("filling the SRP verifier powers stopped" in r.getMessage() for r in caplog.records)


async def _powers(engine: AsyncEngine) -> dict[str, bytes | None]:
    async with engine.connect() as connection:
        result = await connection.execute(
            select(col(Account.email), col(Account.srp_verifier_powers))
        )
        return dict(result.all())


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
