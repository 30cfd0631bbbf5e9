"""Database engines: SQLite file by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url, text
from sqlmodel import create_engine

#: Files SQLite keeps beside a database, which hold its pages as well.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite_file(database: str) -> None:
    """Create a SQLite database file readable and writable by its owner only, or tighten
    an existing one (and its side files): the databases hold API key digests, sealed
    secrets and the bureaus' endpoints. SQLite gives the files it creates beside a
    database the database file's mode."""
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in _SQLITE_SIDE_FILES)):
        if candidate.exists() and candidate.stat().st_mode & 0o077:
            candidate.chmod(0o600)


def _sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL; None for an in-memory database or a URI filename."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    """``sqlite_synchronous``: FULL unless everything the database holds can be rebuilt
    (see ingest's bootstrap)."""
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"unknown SQLite synchronous setting {sqlite_synchronous!r}")
    if url.startswith("sqlite"):
        database = _sqlite_file(url)
        if database is not None:
            private_sqlite_file(database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the API read while the consumer writes; a busy wait beats an error.
            # FULL: a commit is on disk when it returns. The consumers commit their Kafka
            # offsets right after, so a transaction NORMAL could lose to a power cut would be
            # a message lost; with a batch per commit the fsync costs little (make bench).
            # NORMAL in WAL mode survives a crash of the process, never corrupts the file,
            # and may lose the last commits to a power cut.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


async def database_ready(engine: Engine) -> bool:
    def probe() -> bool:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True

    return await asyncio.to_thread(probe)
