"""The registry's first schema: articles, institutions, alliances, reports, renames, outbox.

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

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The first skeleton kept raw reports with create_all; articles replace them.
    op.execute("DROP TABLE IF EXISTS extraction_reports")
    op.create_table(
        "articles",
        sa.Column("article_id", sa.String(128), primary_key=True),
        sa.Column("extractor_version", sa.String(64), nullable=False),
        sa.Column("extracted_at", _TS, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published_at", sa.Date(), nullable=True),
        sa.Column("first_received_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "institutions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("province", sa.String(40), nullable=True),
        sa.Column("city", sa.String(60), nullable=True),
        sa.Column("county", sa.String(60), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_institutions_key", "institutions", ["key"])
    op.create_table(
        "institution_names",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column(
            "institution_id",
            sa.String(40),
            sa.ForeignKey("institutions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "alliances",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(60), nullable=True),
        sa.Column("date", sa.String(10), nullable=True),
        sa.Column("date_start", sa.Date(), nullable=True),
        sa.Column("date_end", sa.Date(), nullable=True),
        sa.Column("cross_province", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_alliances_type", "alliances", ["type"])
    op.create_index("ix_alliances_specialty", "alliances", ["specialty"])
    op.create_index("ix_alliances_date_start", "alliances", ["date_start"])
    op.create_index("ix_alliances_first_seen_id", "alliances", ["first_seen", "id"])
    op.create_table(
        "alliance_institutions",
        sa.Column(
            "alliance_id",
            sa.String(40),
            sa.ForeignKey("alliances.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "institution_id", sa.String(40), sa.ForeignKey("institutions.id"), primary_key=True
        ),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_alliance_institutions_institution_id", "alliance_institutions", ["institution_id"]
    )
    op.create_table(
        "alliance_places",
        sa.Column(
            "alliance_id",
            sa.String(40),
            sa.ForeignKey("alliances.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.String(60), primary_key=True),
    )
    op.create_index(
        "ix_alliance_places_kind_value", "alliance_places", ["kind", "value", "alliance_id"]
    )
    op.create_table(
        "alliance_reports",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("article_id", sa.String(128), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.String(40), sa.ForeignKey("alliances.id"), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(60), nullable=True),
        sa.Column("date", sa.String(10), nullable=True),
        sa.Column("provinces", sa.Text(), nullable=False),
        sa.Column("cross_province", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("lead", sa.Text(), nullable=False),
        sa.Column("members", sa.Text(), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
    )
    op.create_index("ix_alliance_reports_article_id", "alliance_reports", ["article_id"])
    op.create_index("ix_alliance_reports_alliance_id", "alliance_reports", ["alliance_id"])
    op.create_table(
        "institution_renames",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("old_key", sa.String(200), nullable=False, unique=True),
        sa.Column("old_name", sa.String(200), nullable=False),
        sa.Column("new_name", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("change_id", sa.String(80), nullable=False, unique=True),
        sa.Column("alliance_id", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
    )
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"])


def downgrade() -> None:
    for table in (
        "outbox",
        "institution_renames",
        "alliance_reports",
        "alliance_places",
        "alliance_institutions",
        "alliances",
        "institution_names",
        "institutions",
        "articles",
    ):
        op.drop_table(table)
