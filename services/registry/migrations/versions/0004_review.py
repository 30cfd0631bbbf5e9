"""Analysts review alliances: their keys, each alliance's review state (status, who and
when, the corrected values that lock their fields, the survivor of a merge) and the audit
trail of every action.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Server defaults so that the alliances already there start unreviewed and unlocked.
    op.add_column(
        "alliances",
        sa.Column("review_status", sa.String(12), nullable=False, server_default="unreviewed"),
    )
    op.add_column("alliances", sa.Column("reviewed_at", _TS, nullable=True))
    op.add_column("alliances", sa.Column("reviewed_by", sa.String(40), nullable=True))
    op.add_column(
        "alliances", sa.Column("corrections", sa.Text(), nullable=False, server_default="{}")
    )
    op.add_column("alliances", sa.Column("merged_into", sa.String(40), nullable=True))
    op.create_index("ix_alliances_review_status", "alliances", ["review_status"])
    op.create_index("ix_alliances_merged_into", "alliances", ["merged_into"])
    op.create_table(
        "analysts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_table(
        "review_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alliance_id", sa.String(40), nullable=False),
        sa.Column("analyst_id", sa.String(40), nullable=False),
        sa.Column("analyst_name", sa.String(80), nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_review_actions_alliance_id", "review_actions", ["alliance_id"])


def downgrade() -> None:
    op.drop_table("review_actions")
    op.drop_table("analysts")
    op.drop_index("ix_alliances_merged_into", "alliances")
    op.drop_index("ix_alliances_review_status", "alliances")
    # Unindexed by now, so SQLite drops them in place (rebuilding the table would trip
    # over the foreign keys that point at it).
    for column in ("merged_into", "corrections", "reviewed_by", "reviewed_at", "review_status"):
        op.drop_column("alliances", column)
