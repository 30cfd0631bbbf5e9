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
        self._stopping = False
        self.connected = False
        self.restarts = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-worker")

    async def _run(self) -> None:
        """Connect and consume; a loop that dies of an unexpected error is logged, its
        consumer leaves the group (its uncommitted messages go to the others or come back)
        and the worker connects again after a backoff, instead of staying dead."""
        await connect_with_retry(self.publisher.start, "Kafka (producer)")
        delay = 0.5
        while not self._stopping:
            await connect_with_retry(self.source.start, "Kafka (consumer)")
            self.connected = True
            self.loop = self._make_loop(self.source, self.publisher)
            try:
                await self.loop.run()
                if self.loop.halted:
                    # Stopped by the dead-letter limit: leave the group, so the messages
                    # left uncommitted are not held, and stay stopped (not ready) until
                    # an operator restarts the service.
                    await self.source.stop()
                return
            except Exception:
                log.exception("consumer loop failed; reconnecting in %.1fs", delay)
            self.connected = False
            self.restarts += 1
            await self.source.stop()
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)

    async def stop(self) -> None:
        """Finish the message in hand, commit, leave the group, close the producer."""
        self._stopping = True
        if self.loop is not None:
            self.loop.request_stop()
        if self._task is not None:
            if not self.connected:
                self._task.cancel()  # connecting or backing off: nothing in hand to finish
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("consumer worker ended with an error")
        self.connected = False
        await self.source.stop()
        await self.publisher.stop()

    @property
    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    @property
    def halted(self) -> bool:
        """The dead-letter limit stopped the consumer."""
        return self.loop is not None and self.loop.halted

    async def consuming(self) -> bool:
        """Messages flow: none is being retried and the dead-letter limit was not hit."""
        return self.loop is not None and self.loop.consuming and self.failed is None

    async def ready(self) -> bool:
        return self.connected and self.failed is None and await self.publisher.check()
