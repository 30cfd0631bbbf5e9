"""Brings ingest's database to the newest schema, at start-up, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Schema

SCHEMA = Schema(
    directory=Path(__file__).resolve().parents[1] / "migrations",
    version_table="ingest_schema_version",
    lock_key=0x696E6765,  # "inge": replicas starting together take turns migrating
)
VERSION_TABLE = SCHEMA.version_table
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
current_revision = SCHEMA.current_revision
