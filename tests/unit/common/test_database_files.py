"""SQLite database files are private to their owner: created 0600, tightened when found
readable by others, their WAL and shared-memory files too."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.db import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_side_files_are_0600(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "notify.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('x')"))
        files = sorted(database.parent.iterdir())
        assert {f.name for f in files} >= {"notify.db", "notify.db-wal", "notify.db-shm"}
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    wal = tmp_path / "registry.db-wal"
    wal.touch()
    wal.chmod(0o664)
    engine = make_engine(f"sqlite:///{database}")
    engine.dispose()
    assert mode(database) == 0o600 and mode(wal) == 0o600


def test_in_memory_databases_create_no_file() -> None:
    before = set(os.listdir("."))
    for url in ("sqlite://", "sqlite:///:memory:"):
        make_engine(url).dispose()
    assert set(os.listdir(".")) == before


def test_a_commit_on_sqlite_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    """WAL for readers beside the writer, and synchronous FULL: the consumers commit their
    Kafka offsets right after their transaction, which must then survive a power cut."""
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_ingest_trades_the_fsync_for_a_duplicate_it_can_afford(tmp_path: Path) -> None:
    """Ingest's database only spares Kafka a duplicate (the article is in Kafka before it
    is remembered), so it commits without waiting for the disk; the services whose
    commits precede a Kafka offset commit keep FULL."""
    from services.ingest.bootstrap import build_app
    from services.ingest.config import IngestSettings

    settings = IngestSettings(
        INGEST_DATABASE_URL=f"sqlite:///{tmp_path / 'ingest.db'}",
        INGEST_API_TOKENS="crawler-token-" + "x" * 32,
    )
    engine = build_app(settings).state.ingest.seen.engine
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_an_unknown_synchronous_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="OFF"):
        make_engine("sqlite://", sqlite_synchronous="OFF")
