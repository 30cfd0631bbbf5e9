"""Retryable means retry: a message whose handler fails retryably is tried again for as
long as it takes, never dead-lettered, with the consumer not ready meanwhile; SIGTERM still
stops a retrying consumer at once. Only invalid and poison messages are dead-lettered, and
only under the dead-letter limit: past it the consumer stops rather than emptying a topic."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY

from services.common.contracts import RawArticle, encode
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.loop import ConsumerLoop, DlqLimit, RetryPolicy
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.common.kafka.records import Record
from services.common.settings import ServiceSettings
from services.common.worker import ConsumerWorker

TINY = RetryPolicy(initial_backoff_seconds=0.001, max_backoff_seconds=0.002)


def article(n: int) -> bytes:
    return encode(RawArticle(article_id=f"a{n}", body="正文", received_at=datetime.now(UTC)))


class Source(InMemorySource):
    """An in-memory member that can be started and stopped like a Kafka one."""

    stopped = False

    async def start(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


def gauge(name: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"topic": topic})


async def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_retryable_failure_is_retried_until_it_passes_never_dead_lettered() -> None:
    topic = "retry.forever"
    broker = InMemoryBroker(partitions=1)
    broker.append(topic, b"a1", article(1), ())
    broker.append(topic, b"a2", article(2), ())
    attempts = 0
    handled: list[str] = []
    consuming_during: list[bool] = []
    retrying_gauge: list[float | None] = []
    worker: ConsumerWorker

    async def handle(message: RawArticle, record: Record) -> None:
        nonlocal attempts
        if message.article_id == "a1":
            attempts += 1
            if attempts > 1:
                consuming_during.append(await worker.consuming())
                retrying_gauge.append(gauge("kafka_handler_retrying", topic))
            if attempts <= 50:
                raise RetryableError("registry database unavailable")
        handled.append(message.article_id)

    def make_loop(source: Any, publisher: Any) -> ConsumerLoop[Any]:
        return ConsumerLoop(source, publisher, RawArticle, handle, retry=TINY)

    source = Source(broker, [topic], "g")
    worker = ConsumerWorker(InMemoryPublisher(broker), source, make_loop)  # type: ignore[arg-type]
    worker.start()
    await wait_for(lambda: len(handled) == 2)
    assert attempts == 51
    assert handled == ["a1", "a2"]  # each once, in order
    assert broker.records(topic + ".dlq") == []
    # Not ready on every retry, ready again once it passed.
    assert len(consuming_during) == 50 and not any(consuming_during)
    assert set(retrying_gauge) == {1.0}
    assert await worker.consuming() and await worker.ready()
    assert gauge("kafka_handler_retrying", topic) == 0
    assert (
        REGISTRY.get_sample_value(
            "kafka_messages_failed_total", {"topic": topic, "kind": "retryable"}
        )
        == 50
    )
    await wait_for(lambda: broker.committed["g"].get((topic, 0)) == 2)
    await worker.stop()


async def test_the_backoff_doubles_up_to_its_cap_however_long_it_lasts() -> None:
    policy = RetryPolicy(initial_backoff_seconds=0.2, max_backoff_seconds=30)
    assert [policy.backoff(n) for n in range(1, 10)] == [
        0.2,
        0.4,
        0.8,
        1.6,
        3.2,
        6.4,
        12.8,
        25.6,
        30,
    ]
    assert policy.backoff(100_000) == 30  # days of retrying: no overflow


async def test_settings_give_the_backoff_and_the_limit() -> None:
    settings = ServiceSettings(
        KAFKA_RETRY_BACKOFF_SECONDS=0.5,  # type: ignore[call-arg]
        KAFKA_RETRY_MAX_BACKOFF_SECONDS=8,
        KAFKA_ERROR_ATTEMPTS=2,
        KAFKA_DLQ_LIMIT=7,
        KAFKA_DLQ_LIMIT_WINDOW=70,
    )
    assert settings.retry_policy() == RetryPolicy(0.5, 8, 2)
    assert settings.dlq_limit() == DlqLimit(7, 70)
    defaults = ServiceSettings()
    assert defaults.retry_policy().max_backoff_seconds == 30
    assert defaults.dlq_limit() == DlqLimit(50, 200)


async def test_stop_interrupts_a_handler_being_retried_at_once() -> None:
    """The retry waits on a dependency that never answers; SIGTERM must not wait for it.
    The message is left uncommitted and comes back to the next consumer."""
    topic = "retry.stop"
    broker = InMemoryBroker(partitions=1)
    broker.append(topic, b"a1", article(1), ())
    attempts = 0
    hanging = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RetryableError("database away")
        hanging.set()
        await asyncio.Event().wait()  # a connect that never returns

    loop = ConsumerLoop(
        InMemorySource(broker, [topic], "g"),
        InMemoryPublisher(broker),
        RawArticle,
        handle,
        retry=TINY,
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(hanging.wait(), 10)
    assert loop.retrying
    started = time.monotonic()
    loop.request_stop()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 1
    assert broker.committed["g"].get((topic, 0)) is None
    assert broker.records(topic + ".dlq") == []
    assert not loop.retrying


async def test_stop_during_a_long_backoff_returns_at_once() -> None:
    topic = "retry.backoff"
    broker = InMemoryBroker(partitions=1)
    broker.append(topic, b"a1", article(1), ())
    failed = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        failed.set()
        raise RetryableError("database away")

    loop = ConsumerLoop(
        InMemorySource(broker, [topic], "g"),
        InMemoryPublisher(broker),
        RawArticle,
        handle,
        retry=RetryPolicy(initial_backoff_seconds=30, max_backoff_seconds=30),
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(failed.wait(), 10)
    await asyncio.sleep(0.05)
    loop.request_stop()
    await asyncio.wait_for(task, 2)
    assert broker.committed["g"].get((topic, 0)) is None


async def test_past_the_dead_letter_limit_the_consumer_stops() -> None:
    """A bug that makes every message invalid: 3 dead letters, then the consumer stops,
    leaves the group and stays stopped, not ready, with the rest uncommitted."""
    topic = "limit.stop"
    broker = InMemoryBroker(partitions=1)
    for n in range(10):
        broker.append(topic, f"a{n}".encode(), b'{"not": "an article"}', ())
    handled: list[str] = []

    async def handle(message: RawArticle, record: Record) -> None:
        handled.append(message.article_id)

    def make_loop(source: Any, publisher: Any) -> ConsumerLoop[Any]:
        return ConsumerLoop(source, publisher, RawArticle, handle, dlq_limit=DlqLimit(3, 10))

    source = Source(broker, [topic], "g")
    worker = ConsumerWorker(InMemoryPublisher(broker), source, make_loop)  # type: ignore[arg-type]
    worker.start()
    await wait_for(lambda: worker.halted and source.stopped)
    dead = broker.records(topic + ".dlq")
    assert [r.key for r in dead] == [b"a0", b"a1", b"a2"]
    assert broker.committed["g"][(topic, 0)] == 3  # a3, which would pass it, comes back
    assert not await worker.consuming()
    assert gauge("kafka_consumer_halted", topic) == 1
    broker.append(topic, b"a10", article(10), ())
    await asyncio.sleep(0.3)
    assert handled == [] and worker.restarts == 0  # stays stopped
    await worker.stop()


async def test_dead_letters_spread_among_good_messages_stay_under_the_limit() -> None:
    """At most 2 dead letters among the last 4 messages: poison, good, good, poison, ...
    never passes it; three poison messages in a row do."""
    topic = "limit.window"
    broker = InMemoryBroker(partitions=1)
    pattern = ["p", "g", "g"] * 6 + ["p", "p", "p"]
    for n, kind in enumerate(pattern):
        broker.append(topic, f"{kind}{n}".encode(), article(n), ())
    handled: list[str] = []

    async def handle(message: RawArticle, record: Record) -> None:
        assert record.key is not None
        if record.key.startswith(b"p"):
            raise PoisonError("cannot be processed")
        handled.append(message.article_id)

    loop = ConsumerLoop(
        InMemorySource(broker, [topic], "g"),
        InMemoryPublisher(broker),
        RawArticle,
        handle,
        dlq_limit=DlqLimit(max_dead_letters=2, window=4),
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(task, 10)  # returns by itself: halted
    assert loop.halted
    # The six spread poison messages are dead-lettered, so are p18 and p19 (p15 has left
    # the window of 4 by then); p20 would be the third of g17, p18, p19, p20: it stops.
    assert len(broker.records(topic + ".dlq")) == 8
    assert broker.committed["g"][(topic, 0)] == 20
    assert len(handled) == 12


async def test_with_a_limit_of_zero_nothing_is_dead_lettered() -> None:
    topic = "limit.zero"
    broker = InMemoryBroker(partitions=1)
    broker.append(topic, b"bad", b"{", ())

    async def handle(message: RawArticle, record: Record) -> None:
        return None

    loop = ConsumerLoop(
        InMemorySource(broker, [topic], "g"),
        InMemoryPublisher(broker),
        RawArticle,
        handle,
        dlq_limit=DlqLimit(max_dead_letters=0),
    )
    await asyncio.wait_for(loop.run(), 10)
    assert loop.halted and broker.records(topic + ".dlq") == []
    assert broker.committed["g"].get((topic, 0)) is None
