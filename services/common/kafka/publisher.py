"""Publishing: a message counts as sent only once the broker acknowledged it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.common import tracing
from services.common.errors import RetryableError
from services.common.kafka.metrics import MESSAGES_PRODUCED

Headers = Sequence[tuple[str, bytes]]


class BrokerUnavailable(RetryableError):
    """The broker did not acknowledge in time; nothing may be assumed sent."""


class Publisher(Protocol):
    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        """Return once the broker acknowledged; raise ``BrokerUnavailable`` otherwise."""
        ...


class ManagedPublisher(Publisher, Protocol):
    """A publisher with a connection to open, close and probe."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def check(self, timeout: float = 3.0) -> bool: ...


class KafkaPublisher:
    """An idempotent, ``acks=all`` producer with a bound on how long a send may wait."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "alliance-watch",
        send_timeout_seconds: float = 10.0,
        max_request_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._send_timeout = send_timeout_seconds
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "request_timeout_ms": int(send_timeout_seconds * 1000),
            "max_request_size": max_request_bytes,
            "linger_ms": 2,
        }
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect; retried by the caller while the broker is not yet reachable."""
        # Made here, not in __init__: aiokafka binds its client to the running event loop.
        producer = AIOKafkaProducer(**self._options)
        try:
            await producer.start()
        except KafkaError as exc:
            # aiokafka leaves a half-started producer behind; close it before retrying.
            await producer.stop()
            raise BrokerUnavailable(f"cannot connect to Kafka: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        # The message carries its span's context (W3C traceparent) to whoever consumes it.
        with tracing.producer_span(topic, key):
            producer = self._producer
            if producer is None:
                raise BrokerUnavailable("the producer is not connected")
            try:
                await asyncio.wait_for(
                    producer.send_and_wait(
                        topic, value, key=key, headers=tracing.with_trace_headers(headers)
                    ),
                    timeout=self._send_timeout,
                )
            except (KafkaError, TimeoutError) as exc:
                raise BrokerUnavailable(
                    f"broker did not acknowledge {topic}: {type(exc).__name__} {exc}"
                ) from exc
        MESSAGES_PRODUCED.labels(topic).inc()

    async def check(self, timeout: float = 3.0) -> bool:
        """Whether the cluster answers a metadata request now (for /readyz)."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, TimeoutError):
            return False
        return True
