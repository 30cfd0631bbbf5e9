"""Alembic environment of notify: see services.common.migrations.run_environment."""

from __future__ import annotations

from services.common.migrations import run_environment
from services.notify.adapters.migrate import VERSION_TABLE

run_environment(VERSION_TABLE)
