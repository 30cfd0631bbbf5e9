"""Consuming: fetch records for a consumer group and commit offsets explicitly."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from services.common.errors import RetryableError
from services.common.kafka.records import Record, TopicPartition

log = logging.getLogger(__name__)


class Source(Protocol):
    """What the consumer loop needs from a broker; Kafka and the in-memory broker alike."""

    topics: list[str]

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that every offset below ``offsets[tp]`` is done."""
        ...

    async def lag(self) -> dict[TopicPartition, int]: ...


class KafkaSource:
    """A member of a consumer group that never auto-commits."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: list[str],
        group_id: str,
        *,
        client_id: str = "alliance-watch",
        max_fetch_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.topics = topics
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "client_id": client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "max_partition_fetch_bytes": max_fetch_bytes,
            "fetch_max_bytes": max_fetch_bytes * 4,
        }
        self._client: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # Made here, not in __init__: aiokafka binds its client to the running event loop.
        consumer = AIOKafkaConsumer(*self.topics, **self._options)
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise RetryableError(f"cannot connect to Kafka: {exc}") from exc
        self._client = consumer

    async def stop(self) -> None:
        """Leave the group, so its partitions move to the other members at once."""
        consumer, self._client = self._client, None
        if consumer is not None:
            await consumer.stop()

    @property
    def _consumer(self) -> AIOKafkaConsumer:
        if self._client is None:
            raise RetryableError("the consumer is not connected")
        return self._client

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]:
        try:
            batches = await self._consumer.getmany(
                timeout_ms=int(timeout_seconds * 1000), max_records=max_records
            )
        except KafkaError as exc:
            raise RetryableError(f"fetch failed: {exc}") from exc
        return [Record.of(msg) for messages in batches.values() for msg in messages]

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(
                {KafkaTopicPartition(t, p): offset for (t, p), offset in offsets.items()}
            )
        except CommitFailedError as exc:
            # The group rebalanced while we worked: the new owner re-reads these messages
            # and the handlers are idempotent by key, so this costs time, not correctness.
            log.warning("offset commit refused after a rebalance: %s", exc)
        except KafkaError as exc:
            raise RetryableError(f"offset commit failed: {exc}") from exc

    async def lag(self) -> dict[TopicPartition, int]:
        result: dict[TopicPartition, int] = {}
        try:
            for tp in self._consumer.assignment():
                high = self._consumer.highwater(tp)
                if high is None:
                    continue
                position = await self._consumer.position(tp)
                result[(tp.topic, tp.partition)] = max(0, high - position)
        except KafkaError as exc:  # a partition revoked meanwhile, or the broker away
            raise RetryableError(f"lag unknown: {exc}") from exc
        return result
