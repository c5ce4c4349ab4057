"""handshake counter key

srp/verify takes the handshake and locks the identity's brute-force counter in
one statement: the counter's key (an HMAC under the server secret) is stored
with the handshake at srp/start. Nullable: handshakes started before this
revision have none, and verify takes them the previous way.

Revision ID: 8e2370e9727b
Revises: 0cc4cf2c9506
Create Date: 2026-11-21 13:12:54.329870+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e2370e9727b"
down_revision: str | None = "0cc4cf2c9506"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("srp_handshakes", sa.Column("counter_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("srp_handshakes", "counter_key")
