"""One contract suite for the consumer loop, run on the in-memory broker and on real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.common.kafka.publisher import KafkaPublisher, Publisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource, Source


@dataclass
class BrokerKit:
    """What a contract test needs: a publisher, sources by group, and a topic reader."""

    publisher: Publisher
    topic: str
    make_source: Callable[[str], Any]
    read_all: Callable[[str, int], Any]
    _sources: list[Any] = field(default_factory=list)

    async def source(self, group: str) -> Source:
        source = await self.make_source(group)
        self._sources.append(source)
        return source  # type: ignore[no-any-return]

    async def leave(self, source: Source) -> None:
        """The member leaves its group, as a stopped service does."""
        stop = getattr(source, "stop", None)
        if stop is not None:
            await stop()


async def create_topic(bootstrap_servers: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


@pytest.fixture(params=["memory", "kafka"])
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[BrokerKit]:
    if request.param == "memory":
        broker = InMemoryBroker(partitions=1)

        async def memory_source(group: str) -> InMemorySource:
            return InMemorySource(broker, ["orders"], group)

        async def memory_read(topic: str, expected: int) -> list[Record]:
            return broker.records(topic)

        yield BrokerKit(InMemoryPublisher(broker), "orders", memory_source, memory_read)
        return

    kafka = request.getfixturevalue("kafka")
    topic = f"contract.{uuid.uuid4().hex[:8]}"
    await create_topic(kafka.bootstrap_servers, topic, partitions=1)
    await create_topic(kafka.bootstrap_servers, topic + ".dlq", partitions=1)
    publisher = KafkaPublisher(kafka.bootstrap_servers, client_id="contract")
    await publisher.start()
    sources: list[KafkaSource] = []

    async def kafka_source(group: str) -> KafkaSource:
        source = KafkaSource(kafka.bootstrap_servers, [topic], group)
        await source.start()
        sources.append(source)
        return source

    async def kafka_read(name: str, expected: int) -> list[Record]:
        reader = KafkaSource(kafka.bootstrap_servers, [name], f"reader-{uuid.uuid4().hex[:6]}")
        await reader.start()
        found: list[Record] = []
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while len(found) < expected and asyncio.get_running_loop().time() < deadline:
                found.extend(await reader.fetch(0.5, 100))
        finally:
            await reader.stop()
        return found

    try:
        yield BrokerKit(publisher, topic, kafka_source, kafka_read)
    finally:
        for source in sources:
            await source.stop()
        await publisher.stop()
