"""Ingest's first schema: the accepted articles and the claims of articles being published.

Until this revision ingest made these two tables itself at start-up (SQLModel's
create_all), so a deployment may have both, or only ``ingested_articles`` (from before
claims existed). Each table is created only when missing: on such a database this
revision adds what is absent, keeps every row, and records the version.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "ingested_articles" not in existing:
        op.create_table(
            "ingested_articles",
            sa.Column("article_id", sa.String(64), primary_key=True),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("first_accepted_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_accepted_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "article_claims" not in existing:
        op.create_table(
            "article_claims",
            sa.Column("article_id", sa.String(64), primary_key=True),
            sa.Column("claimant", sa.String(64), nullable=False),
            # Unix time in seconds: a number compares the same way in SQLite and PostgreSQL.
            sa.Column("claimed_at", sa.Float(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("article_claims")
    op.drop_table("ingested_articles")
