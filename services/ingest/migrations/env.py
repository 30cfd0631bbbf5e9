"""Alembic environment of ingest: migrations run programmatically at start-up (see
adapters/migrate.py), on the connection the service hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from services.ingest.adapters.migrate import VERSION_TABLE


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run the ingest migrations through services.ingest.adapters.migrate")
run_migrations(_connection)
