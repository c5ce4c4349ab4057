"""Data that a migration adds a column for and the application fills.

A migration runs in one transaction (`migrate.upgrade`): filling a column of
every account there would keep the table locked, from its `ALTER TABLE` to
the commit, while workers of the previous release still serve. So the
revision only adds the column, and `migrate.upgrade` then calls the fills
below (`run_fills`) when the database is at the head revision, after that
transaction has committed. Each fill works in batches that
commit one by one, skips rows that changed meanwhile, and can be run again:
an interrupted fill goes on where it stopped at the next upgrade.
"""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from vaultapi.crypto import CryptoError, srp
from vaultapi.db.models import Account
from vaultapi.db.repositories import sa_table
from vaultapi.errors import DatabaseUnreachable

log = logging.getLogger(__name__)

BATCH = 500
"""Accounts per transaction: about 0.5 s of CPU (`srp.verifier_powers`)."""

_A = sa_table(Account)
_MISSING = select(_A.c.id, _A.c.srp_verifier).where(_A.c.srp_verifier_powers.is_(None))
_FILL = (
    update(_A)
    .where(
        _A.c.id == bindparam("account_id"),
        _A.c.srp_verifier == bindparam("verifier"),  # not changed meanwhile
        _A.c.srp_verifier_powers.is_(None),
    )
    .values(srp_verifier_powers=bindparam("powers"))
)


async def fill_verifier_powers(engine: AsyncEngine) -> int:
    """Store `srp.verifier_powers` for the accounts that have none (revision
    3b9d0c7e5a41); how many were filled. A verifier that is not a group
    element is left without: its account cannot log in anyway. Each page is
    read, then computed outside any transaction (SQLite's `BEGIN IMMEDIATE`
    would hold the whole database meanwhile), then written in a short one."""
    filled, after = 0, None
    while True:
        page = _MISSING.order_by(_A.c.id).limit(BATCH)
        if after is not None:
            page = page.where(_A.c.id > after)
        async with engine.connect() as connection:
            rows = (await connection.execute(page)).all()
        if not rows:
            break
        values = []
        for account_id, verifier in rows:
            try:
                powers = srp.verifier_powers(int.from_bytes(verifier, "big"))
            except CryptoError:
                continue
            values.append({"account_id": account_id, "verifier": verifier, "powers": powers})
        if values:
            async with engine.begin() as connection:
                await connection.execute(_FILL, values)
        filled += len(values)
        after = rows[-1][0]
    if filled:
        log.info("stored the SRP verifier powers of %d accounts", filled)
    return filled


async def run_fills(engine: AsyncEngine) -> None:
    """Every fill, at the head revision. A fill that fails is logged, not
    raised: the schema is migrated, and what a fill leaves undone is done
    later (the next upgrade, or the request that needs the row)."""
    try:
        await fill_verifier_powers(engine)
    except (SQLAlchemyError, DatabaseUnreachable, OSError) as exc:
        log.warning("filling the SRP verifier powers stopped: %s: %s", type(exc).__name__, exc)
