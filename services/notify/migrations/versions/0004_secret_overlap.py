"""A rotated webhook secret keeps signing beside the new one for an overlap period: the
previous secret, sealed like the current one, and until when it signs.

Revision ID: 0004
Revises: 0003
Create Date: 2025-07-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("previous_secret_sealed", sa.Text(), nullable=True))
    op.add_column(
        "subscriptions",
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), as in 0002: no batch copy of a referenced table.
    op.drop_column("subscriptions", "previous_secret_until")
    op.drop_column("subscriptions", "previous_secret_sealed")
