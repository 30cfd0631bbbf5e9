"""Brings ingest's database to the newest schema, at start-up, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from services.common import migrations

VERSION_TABLE = "ingest_schema_version"
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
#: Replicas starting together on one PostgreSQL take turns migrating.
_MIGRATION_LOCK = 0x696E6765  # "inge"


def upgrade(engine: Engine, revision: str = "head") -> None:
    migrations.upgrade(migrations.alembic_config(MIGRATIONS), engine, _MIGRATION_LOCK, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    migrations.downgrade(migrations.alembic_config(MIGRATIONS), engine, revision)


def current_revision(engine: Engine) -> str | None:
    return migrations.current_revision(engine, VERSION_TABLE)
