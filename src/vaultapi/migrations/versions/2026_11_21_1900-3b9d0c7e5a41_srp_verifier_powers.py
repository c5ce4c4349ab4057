"""srp verifier powers

srp/verify computes v^u from powers of v stored with the account
(`vaultapi.crypto.comb`). Every code path that sets a verifier also sets
them; this revision computes them for the accounts that exist (about 0.7 ms
of CPU each, in batches). Nullable: a verify that finds none (or stale ones)
computes v^u with `powmod`, with the same result.

Revision ID: 3b9d0c7e5a41
Revises: 8e2370e9727b
Create Date: 2026-11-21 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vaultapi.crypto import CryptoError, srp

revision: str = "3b9d0c7e5a41"
down_revision: str | None = "8e2370e9727b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Uuid()),
    sa.column("srp_verifier", sa.LargeBinary()),
    sa.column("srp_verifier_powers", sa.LargeBinary()),
)


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("srp_verifier_powers", sa.LargeBinary(length=1552), nullable=True)
    )
    connection = op.get_bind()
    fill = (
        sa.update(_accounts)
        .where(_accounts.c.id == sa.bindparam("account_id"))
        .values(srp_verifier_powers=sa.bindparam("powers"))
    )
    after = None
    while True:
        page = sa.select(_accounts.c.id, _accounts.c.srp_verifier).order_by(_accounts.c.id)
        if after is not None:
            page = page.where(_accounts.c.id > after)
        rows = connection.execute(page.limit(BATCH)).all()
        if not rows:
            return
        filled = []
        for account_id, verifier in rows:
            try:
                powers = srp.verifier_powers(int.from_bytes(verifier, "big"))
            except CryptoError:  # not a valid verifier: it never logs in anyway
                continue
            filled.append({"account_id": account_id, "powers": powers})
        if filled:
            connection.execute(fill, filled)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_column("accounts", "srp_verifier_powers")
