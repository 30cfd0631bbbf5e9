"""Publishing: a message counts as sent only once the broker acknowledged it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.common import tracing
from services.common.errors import RetryableError
from services.common.kafka.metrics import MESSAGES_PRODUCED

Headers = Sequence[tuple[str, bytes]]


class BrokerUnavailable(RetryableError):
    """The broker did not acknowledge in time; nothing may be assumed sent."""


class PartlyPublished(BrokerUnavailable):
    """Some messages of a ``publish_many`` were not acknowledged: ``acknowledged[i]`` says
    whether message ``i`` was, so the caller keeps those and sends the rest again."""

    def __init__(self, message: str, acknowledged: Sequence[bool]) -> None:
        super().__init__(message)
        self.acknowledged = tuple(acknowledged)

    @property
    def leading(self) -> int:
        """How many messages from the first were all acknowledged (an ordered stream may
        keep only these: a later one acknowledged past a lost one would jump the queue)."""
        return next((i for i, ok in enumerate(self.acknowledged) if not ok), len(self.acknowledged))


@dataclass(frozen=True)
class Outgoing:
    """One message of a ``publish_many``; ``trace_context`` is the stored context (see
    ``tracing.current_carrier``) it is sent in, None for the current one."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()
    trace_context: str | None = None


class Publisher(Protocol):
    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        """Return once the broker acknowledged; raise ``BrokerUnavailable`` otherwise."""
        ...

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        """Send all, in order, and return once the broker acknowledged every one; raise
        ``PartlyPublished`` (which says which were) otherwise."""
        ...


async def publish_each(publisher: Publisher, messages: Sequence[Outgoing]) -> None:
    """``publish_many`` one message at a time, for publishers with nothing better."""
    for number, message in enumerate(messages):
        try:
            with tracing.resumed_or_current(message.trace_context):
                await publisher.publish(message.topic, message.key, message.value, message.headers)
        except BrokerUnavailable as exc:
            acknowledged = [True] * number + [False] * (len(messages) - number)
            raise PartlyPublished(str(exc), acknowledged) from exc


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

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        """All handed to the producer at once, so they share its requests (linger,
        batching) instead of one round trip each; then every acknowledgement awaited."""
        producer = self._producer
        if producer is None:
            raise PartlyPublished("the producer is not connected", [False] * len(messages))
        pending: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        for message in messages:
            try:
                with (
                    tracing.resumed_or_current(message.trace_context),
                    tracing.producer_span(message.topic, message.key),
                ):
                    pending.append(
                        await asyncio.wait_for(
                            producer.send(
                                message.topic,
                                message.value,
                                key=message.key,
                                headers=tracing.with_trace_headers(message.headers),
                            ),
                            timeout=self._send_timeout,
                        )
                    )
            except (KafkaError, TimeoutError) as exc:
                failure = exc
                break  # the rest are not handed over: they would only jump this one's place
        acknowledged = [False] * len(messages)
        if pending:
            done, _ = await asyncio.wait(pending, timeout=self._send_timeout)
            for number, future in enumerate(pending):
                if future in done and future.exception() is None:
                    acknowledged[number] = True
                    MESSAGES_PRODUCED.labels(messages[number].topic).inc()
                elif future in done:
                    failure = failure or future.exception()
                else:
                    future.cancel()
        if not all(acknowledged):
            reason = f"{type(failure).__name__} {failure}" if failure else "timed out"
            raise PartlyPublished(
                f"broker acknowledged {sum(acknowledged)} of {len(messages)}: {reason}",
                acknowledged,
            )

    async def check(self, timeout: float = 3.0) -> bool:
        """Whether the cluster answers a metadata request now (for /readyz)."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, TimeoutError):
            return False
        return True
