"""One running system for the security suite: the four services as processes on the
session's Kafka, ingest's store on the session's PostgreSQL (the production choice)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from tools.harness import Stack
from tools.localkafka import LocalKafka
from tools.localpg import LocalPostgres
from tools.topics import ensure_topics


@pytest.fixture(scope="package")
def stack(
    kafka: LocalKafka, postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(kafka.bootstrap_servers, partitions=3, prefix=prefix))
    database = f"ingest_{uuid.uuid4().hex[:8]}"
    system = Stack(
        tmp_path_factory.mktemp("security"),
        kafka=kafka,
        topic_prefix=prefix,
        extra_env={"INGEST_DATABASE_URL": postgres.create_database(database)},
    )
    try:
        system.start()
        yield system
    finally:
        system.stop()
        postgres.drop_database(database)
