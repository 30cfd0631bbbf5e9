"""The outbox by alliance: an alliance founded again after it lost every report (its
row deleted) continues the revisions its earlier changes used, which are looked up here,
so that its change ids never repeat one that notify has already seen.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_alliance_id", "outbox", ["alliance_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_alliance_id", table_name="outbox")
