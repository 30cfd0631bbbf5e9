"""An in-memory broker for unit tests: same contract as Kafka, no network."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import defaultdict
from collections.abc import Sequence

from services.common import tracing
from services.common.kafka.publisher import BrokerUnavailable, Headers, Outgoing, publish_each
from services.common.kafka.records import Record, TopicPartition


class InMemoryBroker:
    """Topics of partitions of records, and committed offsets per consumer group."""

    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self.logs: dict[TopicPartition, list[Record]] = defaultdict(list)
        self.committed: dict[str, dict[TopicPartition, int]] = defaultdict(dict)
        self.available = True
        self._new_data = asyncio.Event()

    def partition_for(self, key: bytes | None) -> int:
        return zlib.crc32(key or b"") % self.partitions

    def append(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> Record:
        if not self.available:
            raise BrokerUnavailable("in-memory broker is switched off")
        tp = (topic, self.partition_for(key))
        record = Record(topic, tp[1], len(self.logs[tp]), key, value, tuple(headers))
        self.logs[tp].append(record)
        self._new_data.set()
        return record

    def records(self, topic: str) -> list[Record]:
        found = [r for (t, _), log in self.logs.items() if t == topic for r in log]
        return sorted(found, key=lambda r: (r.partition, r.offset))

    async def wait_for_data(self, timeout: float) -> None:
        self._new_data.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_data.wait(), timeout)


class InMemoryPublisher:
    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker

    async def start(self) -> None:
        if not self.broker.available:
            raise BrokerUnavailable("in-memory broker is switched off")

    async def stop(self) -> None:
        return None

    async def check(self, timeout: float = 3.0) -> bool:
        return self.broker.available

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        with tracing.producer_span(topic, key):
            self.broker.append(topic, key, value, tracing.with_trace_headers(headers))

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        # Through ``publish``, so that a test's publisher overriding it is used for both.
        await publish_each(self, messages)


class InMemorySource:
    """One consumer of a group; a new source of the same group resumes from its commits."""

    def __init__(self, broker: InMemoryBroker, topics: list[str], group_id: str) -> None:
        self.broker = broker
        self.topics = topics
        self.group_id = group_id
        committed = broker.committed[group_id]
        self._positions: dict[TopicPartition, int] = {
            (t, p): committed.get((t, p), 0) for t in topics for p in range(broker.partitions)
        }

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]:
        batch = self._take(max_records)
        if not batch:
            await self.broker.wait_for_data(timeout_seconds)
            batch = self._take(max_records)
        return batch

    def _take(self, max_records: int) -> list[Record]:
        batch: list[Record] = []
        for tp, position in self._positions.items():
            log = self.broker.logs.get(tp, [])
            taken = log[position : position + max_records - len(batch)]
            batch.extend(taken)
            self._positions[tp] = position + len(taken)
            if len(batch) >= max_records:
                break
        return batch

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.broker.committed[self.group_id].update(offsets)

    async def lag(self) -> dict[TopicPartition, int]:
        return {
            tp: len(self.broker.logs.get(tp, [])) - position
            for tp, position in self._positions.items()
        }
