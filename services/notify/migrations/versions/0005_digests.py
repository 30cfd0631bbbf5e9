"""E-mail digests and bureau contacts: a subscription's cadence (immediate, daily,
weekly), the digest periods sent (one row per subscription and period, so that a period
is sent once across restarts), and a bureau's contact e-mail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("cadence", sa.String(16), nullable=False, server_default="immediate"),
    )
    op.add_column("bureaus", sa.Column("contact_email", sa.String(254), nullable=True))
    op.create_table(
        "digest_periods",
        sa.Column(
            "subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), nullable=False
        ),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", "period"),
    )
    # Held alerts of a digest subscription: pending with no attempt time.
    op.create_index(
        "ix_deliveries_subscription_status", "deliveries", ["subscription_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscription_status", table_name="deliveries")
    op.drop_table("digest_periods")
    op.drop_column("bureaus", "contact_email")
    op.drop_column("subscriptions", "cadence")
