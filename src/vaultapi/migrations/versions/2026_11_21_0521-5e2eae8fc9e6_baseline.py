"""baseline: the empty schema every later migration builds on

Revision ID: 5e2eae8fc9e6
Revises:
Create Date: 2026-11-21 05:21:53.189435+00:00
"""

from collections.abc import Sequence

revision: str = "5e2eae8fc9e6"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
