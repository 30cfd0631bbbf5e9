"""Brings notify's database to the newest schema; run at every start-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from services.common import migrations

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "notify_alembic_version"
_LOCK_KEY = 0x6E6F74696679  # "notify"


def upgrade(engine: Engine, revision: str = "head") -> None:
    migrations.upgrade(migrations.alembic_config(MIGRATIONS), engine, _LOCK_KEY, revision)


def current_revision(engine: Engine) -> str | None:
    return migrations.current_revision(engine, VERSION_TABLE)
