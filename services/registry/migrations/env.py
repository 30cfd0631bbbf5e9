"""Alembic environment of the registry: see services.common.migrations.run_environment."""

from __future__ import annotations

from services.common.migrations import run_environment
from services.registry.adapters.migrate import VERSION_TABLE

run_environment(VERSION_TABLE)
