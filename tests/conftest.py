"""Shared fixtures: the real local Kafka broker and PostgreSQL cluster, and per-test names.

Nothing here is specific to a service; services add their own fixtures in the conftest of
their test sub-directory. The infrastructure fixtures never skip: when the broker or the
database cannot start, the tests that use them error, with the server's log in the message.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tools.localkafka import LocalKafka
from tools.localkafka import install as install_kafka
from tools.localpg import LocalPostgres
from tools.localpg import install as install_postgres
from tools.topics import ensure_topics


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the real servers they use, so `-m "not kafka"` and the like work."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "kafka" in fixtures:
            item.add_marker(pytest.mark.kafka)
        if "postgres" in fixtures or params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real Kafka broker (KRaft, one node) on free loopback ports, for the whole session."""
    libs = install_kafka()
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), libs=libs)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL cluster on a free loopback port, for the whole session."""
    bin_dir = install_postgres()
    # Not under pytest's basetemp: that is private to root, and when we are root the server
    # runs as the `postgres` user, which must be able to reach its directory.
    workdir = Path(tempfile.mkdtemp(prefix="aw-pg-"))
    server = LocalPostgres(workdir, bin_dir=bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, such as ``t1a2b3c4d.``, for its own set of topics."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest_asyncio.fixture
async def kafka_topics(kafka: LocalKafka, topic_prefix: str) -> AsyncIterator[str]:
    """Create this test's topics (3 partitions each) on the session broker; yield the prefix."""
    await ensure_topics(kafka.bootstrap_servers, partitions=3, prefix=topic_prefix)
    yield topic_prefix


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the session PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: LocalPostgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)
