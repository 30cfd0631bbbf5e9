"""Brings the registry's database to the newest schema, at start-up, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Schema

SCHEMA = Schema(
    directory=Path(__file__).resolve().parents[1] / "migrations",
    version_table="registry_schema_version",
    lock_key=0x72656769,  # "regi": replicas starting together take turns migrating
)
VERSION_TABLE = SCHEMA.version_table
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
current_revision = SCHEMA.current_revision
