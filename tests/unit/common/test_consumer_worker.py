"""A consumer loop that dies of an unexpected error is restarted, not left dead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from services.common.contracts import RawArticle, encode
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.common.kafka.records import Record
from services.common.worker import ConsumerWorker


class BrokenOnceSource(InMemorySource):
    """Its first fetch fails with a bug-like error; it can be stopped and started again."""

    broken = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]:
        if BrokenOnceSource.broken:
            BrokenOnceSource.broken = False
            raise RuntimeError("unexpected client state")
        return await super().fetch(timeout_seconds, max_records)


async def test_the_worker_restarts_a_loop_that_died() -> None:
    broker = InMemoryBroker(partitions=1)
    article = RawArticle(article_id="a1", body="正文", received_at=datetime.now(UTC))
    broker.append("articles.raw", b"a1", encode(article), ())
    handled: list[str] = []

    async def handle(message: RawArticle, record: Record) -> None:
        handled.append(message.article_id)

    def make_loop(source: Any, publisher: Any) -> ConsumerLoop[Any]:
        return ConsumerLoop(source, publisher, RawArticle, handle)

    source = BrokenOnceSource(broker, ["articles.raw"], "g")
    worker = ConsumerWorker(InMemoryPublisher(broker), source, make_loop)  # type: ignore[arg-type]
    worker.start()
    for _ in range(100):
        if handled:
            break
        await asyncio.sleep(0.05)
    assert handled == ["a1"]
    assert worker.restarts == 1
    assert await worker.ready()
    await worker.stop()
    assert not await worker.ready()
