"""srp verifier powers

srp/verify computes v^u from powers of v stored with the account
(`vaultapi.crypto.comb`). Every code path that sets a verifier also sets
them. The column is only added here: `migrate.upgrade` fills it for the
accounts that exist after this transaction has committed, in batches that
commit one by one (`vaultapi.db.backfills`), so that the table is not locked
for the length of the fill. Nullable: a verify that finds none (or stale
ones) computes and stores them.

Revision ID: 3b9d0c7e5a41
Revises: 8e2370e9727b
Create Date: 2026-11-21 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b9d0c7e5a41"
down_revision: str | None = "8e2370e9727b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("srp_verifier_powers", sa.LargeBinary(length=1552), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("accounts", "srp_verifier_powers")
