"""Runs a service's Alembic migrations at start-up, on SQLite or PostgreSQL.

Replicas that start together on one PostgreSQL database take an advisory lock first, so
exactly one of them migrates and the others find the work done. ``migrate_with_retry`` is
how every service with a database runs its migrations at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)


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


async def migrate_with_retry(
    migrate: Callable[[], None],
    *,
    attempts: int = 30,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> None:
    """Run ``migrate`` (a service's ``upgrade`` bound to its engine) in a thread, waiting
    for a database that is still starting: about two minutes with the defaults, then the
    last error is raised and the service stops rather than run on an old schema.

    Only "not reachable" errors are retried (OperationalError, and InterfaceError, which
    psycopg raises for a connection lost mid-way); a failing migration fails at once.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            await asyncio.to_thread(migrate)
            return
        except (OperationalError, InterfaceError) as exc:
            if attempt == attempts:
                raise
            log.warning(
                "database not reachable for migrations (attempt %d of %d), retrying in %.1f s: %s",
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
