"""Alembic environment of notify: run programmatically at start-up (see adapters/migrate.py),
on the connection the service hands over, or from the command line with a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from services.notify.adapters.migrate import VERSION_TABLE

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no connection and no sqlalchemy.url to migrate")
        engine = create_engine(url)
        with engine.begin() as own:
            _migrate(own)
        engine.dispose()
        return
    _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=None,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
