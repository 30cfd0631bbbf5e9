"""A consumed message, independent of the client library that fetched it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @classmethod
    def of(cls, message: Any) -> Record:
        """The record of a message the Kafka client fetched (aiokafka's ConsumerRecord)."""
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=tuple(message.headers or ()),
        )


TopicPartition = tuple[str, int]
