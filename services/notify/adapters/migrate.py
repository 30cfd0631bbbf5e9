"""Brings notify's database to the newest schema; run at every start-up."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

from services.common import migrations
from services.notify.adapters.sealing import SecretBox

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "notify_alembic_version"
_LOCK_KEY = 0x6E6F74696679  # "notify"


def _config(box: SecretBox | None) -> Config:
    config = migrations.alembic_config(MIGRATIONS)
    # Migration 0002 seals the secrets stored in plaintext before it, with this box.
    config.attributes["secret_box"] = box
    return config


def upgrade(engine: Engine, revision: str = "head", box: SecretBox | None = None) -> None:
    migrations.upgrade(_config(box), engine, _LOCK_KEY, revision)


def downgrade(engine: Engine, revision: str, box: SecretBox | None = None) -> None:
    migrations.downgrade(_config(box), engine, revision)


def current_revision(engine: Engine) -> str | None:
    return migrations.current_revision(engine, VERSION_TABLE)
