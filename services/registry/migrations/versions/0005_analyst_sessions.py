"""Analysts' dashboard sessions (/review/): an analyst signs in with their key and gets a
session cookie; only the cookie's SHA-256 is kept, so that signing out ends it for good,
and revoking the analyst ends it at the next request.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analyst_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "analyst_id",
            sa.String(40),
            sa.ForeignKey("analysts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_analyst_sessions_analyst_id", "analyst_sessions", ["analyst_id"])
    op.create_index("ix_analyst_sessions_expires_at", "analyst_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_analyst_sessions_expires_at", table_name="analyst_sessions")
    op.drop_index("ix_analyst_sessions_analyst_id", table_name="analyst_sessions")
    op.drop_table("analyst_sessions")
