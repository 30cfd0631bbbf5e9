"""Subscription secrets sealed at rest: ``subscriptions.secret`` (plaintext) becomes
``secret_sealed`` (Fernet under NOTIFY_SECRETS_KEY).

The service hands the migration its ``SecretBox`` (``config.attributes["secret_box"]``);
run from the command line, the migration reads NOTIFY_SECRETS_KEY from the environment.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context, op

from services.notify.adapters.sealing import SecretBox, split_keys

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_subscriptions = sa.table(
    "subscriptions",
    sa.column("id", sa.String),
    sa.column("secret", sa.String),
    sa.column("secret_sealed", sa.Text),
)


def _box(rows: int) -> SecretBox:
    box = context.config.attributes.get("secret_box")
    if box is None:
        keys = split_keys(os.environ.get("NOTIFY_SECRETS_KEY", ""))
        if not keys:
            raise RuntimeError(
                f"migration 0002 re-encodes {rows} stored subscription secrets and needs "
                "NOTIFY_SECRETS_KEY"
            )
        box = SecretBox(keys)
    if not isinstance(box, SecretBox):
        raise TypeError("config.attributes['secret_box'] is not a SecretBox")
    return box


def upgrade() -> None:
    # Read and find the key before changing anything: SQLite does not roll DDL back.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_subscriptions.c.id, _subscriptions.c.secret).where(
            _subscriptions.c.secret.is_not(None)
        )
    ).all()
    box = _box(len(rows)) if rows else None
    op.add_column("subscriptions", sa.Column("secret_sealed", sa.Text(), nullable=True))
    if box is not None:
        for subscription_id, secret in rows:
            bind.execute(
                _subscriptions.update()
                .where(_subscriptions.c.id == subscription_id)
                .values(secret_sealed=box.seal(secret))
            )
    # Native DROP COLUMN (SQLite 3.35+): a batch copy of the table would trip the foreign
    # keys that deliveries hold on it.
    op.drop_column("subscriptions", "secret")


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_subscriptions.c.id, _subscriptions.c.secret_sealed).where(
            _subscriptions.c.secret_sealed.is_not(None)
        )
    ).all()
    box = _box(len(rows)) if rows else None
    opened = [(ident, box.open(sealed)) for ident, sealed in rows] if box is not None else []
    op.add_column("subscriptions", sa.Column("secret", sa.String(256), nullable=True))
    if opened:
        for subscription_id, secret in opened:
            bind.execute(
                _subscriptions.update()
                .where(_subscriptions.c.id == subscription_id)
                .values(secret=secret)
            )
    op.drop_column("subscriptions", "secret_sealed")
