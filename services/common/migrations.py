"""Runs a service's Alembic migrations at start-up, on SQLite or PostgreSQL.

Replicas that start together on one PostgreSQL database take an advisory lock first, so
exactly one of them migrates and the others find the work done.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text


def alembic_config(script_location: Path, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(config: Config, engine: Engine, lock_key: int, revision: str = "head") -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(config: Config, engine: Engine, revision: str = "base") -> None:
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine, version_table: str) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return context.get_current_revision()
