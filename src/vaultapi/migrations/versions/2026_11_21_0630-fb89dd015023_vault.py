"""vault

Revision ID: fb89dd015023
Revises: 419845b82bde
Create Date: 2026-11-21 06:30:05.811892+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fb89dd015023"
down_revision: str | None = "419845b82bde"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vault_folders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_in", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vault_folders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_folders")),
    )
    op.create_index(
        "ix_vault_folders_account_id_changed",
        "vault_folders",
        ["account_id", "changed_in"],
        unique=False,
    )
    op.create_table(
        "vault_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("folder_id", sa.Uuid(), nullable=True),
        sa.Column("favorite", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_in", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vault_items_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_items")),
    )
    op.create_index(
        "ix_vault_items_account_id_changed",
        "vault_items",
        ["account_id", "changed_in"],
        unique=False,
    )
    op.create_index("ix_vault_items_folder_id", "vault_items", ["folder_id"], unique=False)
    op.create_table(
        "vault_tombstones",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("changed_in", sa.BigInteger(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vault_tombstones_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "object_id", name=op.f("pk_vault_tombstones")),
    )
    op.create_index(
        "ix_vault_tombstones_account_id_changed",
        "vault_tombstones",
        ["account_id", "changed_in"],
        unique=False,
    )
    op.create_table(
        "vaults",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vaults_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_vaults")),
    )
    op.create_table(
        "vault_item_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("folder_id", sa.Uuid(), nullable=True),
        sa.Column("favorite", sa.Boolean(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vault_item_versions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["vault_items.id"],
            name=op.f("fk_vault_item_versions_item_id_vault_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_item_versions")),
    )
    op.create_index(
        "ix_vault_item_versions_item_id_revision",
        "vault_item_versions",
        ["item_id", "revision"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_vault_item_versions_item_id_revision", table_name="vault_item_versions")
    op.drop_table("vault_item_versions")
    op.drop_table("vaults")
    op.drop_index("ix_vault_tombstones_account_id_changed", table_name="vault_tombstones")
    op.drop_table("vault_tombstones")
    op.drop_index("ix_vault_items_folder_id", table_name="vault_items")
    op.drop_index("ix_vault_items_account_id_changed", table_name="vault_items")
    op.drop_table("vault_items")
    op.drop_index("ix_vault_folders_account_id_changed", table_name="vault_folders")
    op.drop_table("vault_folders")
