"""The consumer loop rides out a broker that is briefly away: a failed fetch is tried
again, a failed commit is retried, and nothing handled is lost or handled twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.common.contracts import RawArticle, encode
from services.common.errors import RetryableError
from services.common.kafka.loop import ConsumerLoop, RetryPolicy
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.common.kafka.records import Record, TopicPartition


class FlakySource(InMemorySource):
    """Fails the first fetch and the first commit, as a restarting broker would."""

    def __init__(self, broker: InMemoryBroker) -> None:
        super().__init__(broker, ["articles.raw"], "g")
        self.fetch_failures = 1
        self.commit_failures = 1

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]:
        if self.fetch_failures:
            self.fetch_failures -= 1
            raise RetryableError("broker not available")
        return await super().fetch(timeout_seconds, max_records)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_failures:
            self.commit_failures -= 1
            raise RetryableError("coordinator moving")
        await super().commit(offsets)


async def test_a_broker_briefly_away_loses_nothing() -> None:
    broker = InMemoryBroker(partitions=1)
    for n in range(3):
        article = RawArticle(article_id=f"a{n}", body="正文", received_at=datetime.now(UTC))
        broker.append("articles.raw", f"a{n}".encode(), encode(article), ())
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        handled.append(message.article_id)
        if len(handled) == 3:
            done.set()

    source = FlakySource(broker)
    loop = ConsumerLoop(
        source,
        InMemoryPublisher(broker),
        RawArticle,
        handle,
        retry=RetryPolicy(initial_backoff_seconds=0.01),
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.2)
    loop.request_stop()
    await asyncio.wait_for(task, 10)
    assert handled == ["a0", "a1", "a2"]
    assert source.fetch_failures == 0 and source.commit_failures == 0
    assert broker.committed["g"][("articles.raw", 0)] == 3
