"""Runs a service's consumer loop beside its HTTP server, connecting and stopping cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from services.common.errors import RetryableError
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.source import KafkaSource

log = logging.getLogger(__name__)


async def connect_with_retry(
    connect: Callable[[], Awaitable[None]], what: str, *, max_delay: float = 5.0
) -> None:
    """Keep trying until connected; the service reports not-ready meanwhile."""
    delay = 0.2
    while True:
        try:
            await connect()
            return
        except RetryableError as exc:
            log.warning("%s not reachable yet, retrying in %.1fs: %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)


class ConsumerWorker:
    """Owns the publisher, the source and the loop of one consuming service."""

    def __init__(
        self,
        publisher: KafkaPublisher,
        source: KafkaSource,
        make_loop: Callable[[KafkaSource, KafkaPublisher], ConsumerLoop[Any]],
    ) -> None:
        self.publisher = publisher
        self.source = source
        self._make_loop = make_loop
        self.loop: ConsumerLoop[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-worker")

    async def _run(self) -> None:
        await connect_with_retry(self.publisher.start, "Kafka (producer)")
        await connect_with_retry(self.source.start, "Kafka (consumer)")
        self.connected = True
        self.loop = self._make_loop(self.source, self.publisher)
        await self.loop.run()

    async def stop(self) -> None:
        """Finish the message in hand, commit, leave the group, close the producer."""
        if self.loop is not None:
            self.loop.request_stop()
        if self._task is not None:
            if self.loop is None:
                self._task.cancel()  # still connecting: nothing in hand to finish
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("consumer loop ended with an error")
        self.connected = False
        await self.source.stop()
        await self.publisher.stop()

    @property
    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    async def ready(self) -> bool:
        return self.connected and self.failed is None and await self.publisher.check()
