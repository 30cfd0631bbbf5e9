"""Runs a service's Alembic migrations at start-up, on SQLite or PostgreSQL.

Replicas that start together on one PostgreSQL database take an advisory lock first, so
exactly one of them migrates and the others find the work done. ``migrate_with_retry`` is
how every service with a database runs its migrations at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, text
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


@dataclass(frozen=True)
class Schema:
    """One service's migrations: their folder, the table that records the revision, and
    the advisory lock its replicas take turns on."""

    directory: Path
    version_table: str
    lock_key: int

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        upgrade(alembic_config(self.directory), engine, self.lock_key, revision)

    def downgrade(self, engine: Engine, revision: str = "base") -> None:
        downgrade(alembic_config(self.directory), engine, revision)

    def current_revision(self, engine: Engine) -> str | None:
        return current_revision(engine, self.version_table)


def run_environment(version_table: str) -> None:
    """The body of every service's ``migrations/env.py``: migrate on the connection the
    service handed over (``upgrade`` above), or, run from the alembic command line, on the
    configuration's ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection, version_table)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection handed over and no sqlalchemy.url to migrate")
    engine = create_engine(url)
    try:
        with engine.begin() as own:
            _run_migrations(own, version_table)
    finally:
        engine.dispose()


def _run_migrations(connection: Connection, version_table: str) -> None:
    context.configure(
        connection=connection,
        version_table=version_table,
        # SQLite alters a table by copying it; Alembic's batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


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
