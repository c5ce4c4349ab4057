"""shares: time-limited shares, their access log, and task claims

Revision ID: d2de1fb9d88f
Revises: fb89dd015023
Create Date: 2026-11-21 07:13:34.874266+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2de1fb9d88f"
down_revision: str | None = "fb89dd015023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_access",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("share_id", sa.Uuid(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_access")),
    )
    op.create_index(op.f("ix_share_access_at"), "share_access", ["at"], unique=False)
    op.create_index("ix_share_access_share_id_at", "share_access", ["share_id", "at"], unique=False)
    op.create_table(
        "shares",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("proof_hash", sa.String(length=256), nullable=True),
        sa.Column("max_views", sa.Integer(), nullable=False),
        sa.Column("views_used", sa.Integer(), nullable=False),
        sa.Column("failed_proofs", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_shares_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
    )
    op.create_index(
        "ix_shares_account_id_created_at", "shares", ["account_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_shares_expires_at"), "shares", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shares_expires_at"), table_name="shares")
    op.drop_index("ix_shares_account_id_created_at", table_name="shares")
    op.drop_table("shares")
    op.drop_index("ix_share_access_share_id_at", table_name="share_access")
    op.drop_index(op.f("ix_share_access_at"), table_name="share_access")
    op.drop_table("share_access")
