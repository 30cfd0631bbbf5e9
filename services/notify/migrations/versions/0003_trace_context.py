"""A delivery keeps the trace context of the change it was made for, so that each attempt
continues the article's trace (``services.common.tracing``).

Revision ID: 0003
Revises: 0002
Create Date: 2025-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), as in 0002: no batch copy of a referenced table.
    op.drop_column("deliveries", "trace_context")
