"""The consumer loop's promises, on any broker: commit after work, dead-letter, retry, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from services.common.contracts import RawArticle, encode
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.loop import ConsumerLoop, RetryPolicy
from services.common.kafka.records import Record
from tests.contract.conftest import BrokerKit


def article(n: int) -> RawArticle:
    return RawArticle(
        article_id=f"a{n}", body=f"第{n}篇", received_at=datetime(2024, 1, 1, tzinfo=UTC)
    )


async def no_sleep(_: float) -> None:
    return None


async def run_until(
    loop: ConsumerLoop[RawArticle], done: asyncio.Event, timeout: float = 30
) -> None:
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        loop.request_stop()
        await asyncio.wait_for(task, timeout)


async def test_handled_messages_are_committed_and_not_seen_again(kit: BrokerKit) -> None:
    for n in range(3):
        await kit.publisher.publish(kit.topic, f"a{n}".encode(), encode(article(n)))
    seen: list[str] = []
    done = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        seen.append(message.article_id)
        if len(seen) == 3:
            done.set()

    first = await kit.source("g1")
    loop = ConsumerLoop(first, kit.publisher, RawArticle, handle)
    await run_until(loop, done)
    await kit.leave(first)
    assert seen == ["a0", "a1", "a2"]

    again: list[str] = []

    async def record_again(message: RawArticle, record: Record) -> None:
        again.append(message.article_id)

    second = ConsumerLoop(await kit.source("g1"), kit.publisher, RawArticle, record_again)
    task = asyncio.create_task(second.run())
    await asyncio.sleep(2)
    second.request_stop()
    await task
    assert again == []


async def test_a_malformed_message_is_dead_lettered_and_the_loop_goes_on(kit: BrokerKit) -> None:
    await kit.publisher.publish(kit.topic, b"bad", b"{not json")
    await kit.publisher.publish(kit.topic, b"a1", encode(article(1)))
    done = asyncio.Event()
    handled: list[str] = []

    async def handle(message: RawArticle, record: Record) -> None:
        handled.append(message.article_id)
        done.set()

    loop = ConsumerLoop(await kit.source("g2"), kit.publisher, RawArticle, handle)
    await run_until(loop, done)
    assert handled == ["a1"]
    [dead] = await kit.read_all(kit.topic + ".dlq", 1)
    assert dead.value == b"{not json"
    assert dead.key == b"bad"
    assert dead.header("dlq.reason") == b"invalid"
    assert dead.header("dlq.origin.topic") == kit.topic.encode()
    assert dead.header("dlq.origin.offset") == b"0"
    assert dead.header("dlq.origin.partition") == b"0"
    assert b"JSON" in (dead.header("dlq.error") or b"")


async def test_a_poison_error_dead_letters_without_retrying(kit: BrokerKit) -> None:
    await kit.publisher.publish(kit.topic, b"a1", encode(article(1)))
    attempts = 0
    done = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        nonlocal attempts
        attempts += 1
        done.set()
        raise PoisonError("refers to an alliance that cannot exist")

    loop = ConsumerLoop(await kit.source("g3"), kit.publisher, RawArticle, handle)
    await run_until(loop, done)
    [dead] = await kit.read_all(kit.topic + ".dlq", 1)
    assert attempts == 1
    assert dead.header("dlq.reason") == b"poison"
    assert b"cannot exist" in (dead.header("dlq.error") or b"")


class TooSlow(PoisonError):
    reason = "too_slow"


async def test_a_poison_error_names_its_reason_in_the_dead_letter(kit: BrokerKit) -> None:
    for n in (1, 2, 3):
        await kit.publisher.publish(kit.topic, f"a{n}".encode(), encode(article(n)))
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        if message.article_id == "a1":
            raise TooSlow("took too long")
        if message.article_id == "a2":
            raise PoisonError("names a region that does not exist", reason="unknown_region")
        handled.append(message.article_id)
        done.set()

    loop = ConsumerLoop(await kit.source("g3r"), kit.publisher, RawArticle, handle)
    await run_until(loop, done)
    dead = await kit.read_all(kit.topic + ".dlq", 2)
    assert handled == ["a3"]
    assert [(r.key, r.header("dlq.reason")) for r in dead] == [
        (b"a1", b"too_slow"),
        (b"a2", b"unknown_region"),
    ]
    assert b"took too long" in (dead[0].header("dlq.error") or b"")


async def test_retryable_errors_back_off_then_succeed(kit: BrokerKit) -> None:
    await kit.publisher.publish(kit.topic, b"a1", encode(article(1)))
    delays: list[float] = []
    attempts = 0
    done = asyncio.Event()

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    async def handle(message: RawArticle, record: Record) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RetryableError("database restarting")
        done.set()

    loop = ConsumerLoop(
        await kit.source("g4"),
        kit.publisher,
        RawArticle,
        handle,
        retry=RetryPolicy(initial_backoff_seconds=1, max_backoff_seconds=60),
        sleep=record_sleep,
    )
    await run_until(loop, done)
    assert attempts == 3
    assert delays == [1, 2]


async def test_an_unexpected_error_is_tried_a_few_times_then_dead_lettered(
    kit: BrokerKit,
) -> None:
    """A bug is no reason to stall the partition forever (the dead-letter limit catches a
    bug that hits every message); a retryable failure is (see the unit tests)."""
    await kit.publisher.publish(kit.topic, b"a1", encode(article(1)))
    await kit.publisher.publish(kit.topic, b"a2", encode(article(2)))
    done = asyncio.Event()
    handled: list[str] = []
    attempts = 0

    async def handle(message: RawArticle, record: Record) -> None:
        nonlocal attempts
        if message.article_id == "a1":
            attempts += 1
            raise KeyError("a bug")
        handled.append(message.article_id)
        done.set()

    loop = ConsumerLoop(
        await kit.source("g5"),
        kit.publisher,
        RawArticle,
        handle,
        retry=RetryPolicy(error_attempts=3),
        sleep=no_sleep,
    )
    await run_until(loop, done)
    [dead] = await kit.read_all(kit.topic + ".dlq", 1)
    assert dead.header("dlq.reason") == b"error"
    assert b"KeyError" in (dead.header("dlq.error") or b"")
    assert attempts == 3
    assert handled == ["a2"]


async def test_a_message_not_finished_before_stop_is_delivered_again(kit: BrokerKit) -> None:
    await kit.publisher.publish(kit.topic, b"a1", encode(article(1)))
    waiting = asyncio.Event()

    async def stuck(message: RawArticle, record: Record) -> None:
        waiting.set()
        raise RetryableError("dependency down")

    slow = RetryPolicy(initial_backoff_seconds=30)
    first = await kit.source("g6")
    loop = ConsumerLoop(first, kit.publisher, RawArticle, stuck, retry=slow)
    # Stop arrives during the backoff: the message is left uncommitted, not dead-lettered.
    await run_until(loop, waiting)
    await kit.leave(first)

    done = asyncio.Event()
    got: list[str] = []

    async def handle(message: RawArticle, record: Record) -> None:
        got.append(message.article_id)
        done.set()

    again = ConsumerLoop(await kit.source("g6"), kit.publisher, RawArticle, handle)
    await run_until(again, done)
    assert got == ["a1"]


# --- batches: a fetch handled at once, message by message only to find what is at fault


async def publish_articles(kit: BrokerKit, numbers: range) -> None:
    for n in numbers:
        await kit.publisher.publish(kit.topic, f"a{n}".encode(), encode(article(n)))


async def test_a_fetch_is_handled_as_one_batch_and_committed_after_it(kit: BrokerKit) -> None:
    await publish_articles(kit, range(5))
    batches: list[list[str]] = []
    done = asyncio.Event()

    async def one(message: RawArticle, record: Record) -> None:
        raise AssertionError("a batch that succeeds never goes message by message")

    async def many(messages: Sequence[tuple[RawArticle, Record]]) -> None:
        batches.append([m.article_id for m, _ in messages])
        if sum(map(len, batches)) == 5:
            done.set()

    first = await kit.source("gb1")
    loop = ConsumerLoop(first, kit.publisher, RawArticle, one, batch_handler=many)
    await run_until(loop, done)
    await kit.leave(first)
    assert [n for batch in batches for n in batch] == [f"a{n}" for n in range(5)]
    assert max(map(len, batches)) > 1, "the messages fetched together came together"
    assert loop.processed == 5

    again: list[str] = []

    async def count(messages: Sequence[tuple[RawArticle, Record]]) -> None:
        again.extend(m.article_id for m, _ in messages)

    second = ConsumerLoop(
        await kit.source("gb1"), kit.publisher, RawArticle, one, batch_handler=count
    )
    task = asyncio.create_task(second.run())
    await asyncio.sleep(2)
    second.request_stop()
    await task
    assert again == [], "the batch's offsets were committed"


async def test_poison_in_a_batch_is_found_message_by_message_and_only_it_dead_lettered(
    kit: BrokerKit,
) -> None:
    await publish_articles(kit, range(4))
    one_by_one: list[str] = []
    tried_as_batch = 0
    done = asyncio.Event()

    async def one(message: RawArticle, record: Record) -> None:
        if message.article_id == "a2":
            raise PoisonError("names a region that does not exist")
        one_by_one.append(message.article_id)
        if len(one_by_one) == 3:
            done.set()

    async def many(messages: Sequence[tuple[RawArticle, Record]]) -> None:
        nonlocal tried_as_batch
        tried_as_batch += 1
        if any(m.article_id == "a2" for m, _ in messages):
            raise PoisonError("one of the batch names a region that does not exist")
        one_by_one.extend(m.article_id for m, _ in messages)  # a fetch without a2
        if len(one_by_one) == 3:
            done.set()

    loop = ConsumerLoop(await kit.source("gb2"), kit.publisher, RawArticle, one, batch_handler=many)
    await run_until(loop, done)
    [dead] = await kit.read_all(kit.topic + ".dlq", 1)
    assert dead.key == b"a2" and dead.header("dlq.reason") == b"poison"
    assert tried_as_batch >= 1
    assert one_by_one == ["a0", "a1", "a3"]


async def test_a_retryable_batch_is_retried_whole(kit: BrokerKit) -> None:
    await publish_articles(kit, range(3))
    attempts: list[list[str]] = []
    delays: list[float] = []
    done = asyncio.Event()

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    async def one(message: RawArticle, record: Record) -> None:
        raise AssertionError("a retryable batch is not split")

    async def many(messages: Sequence[tuple[RawArticle, Record]]) -> None:
        attempts.append([m.article_id for m, _ in messages])
        if len(attempts) < 3:
            raise RetryableError("database restarting")
        done.set()

    loop = ConsumerLoop(
        await kit.source("gb3"),
        kit.publisher,
        RawArticle,
        one,
        batch_handler=many,
        retry=RetryPolicy(initial_backoff_seconds=1, max_backoff_seconds=60),
        sleep=record_sleep,
    )
    # The first fetch may bring fewer than all three; the batch it brought is retried.
    await run_until(loop, done)
    assert attempts[0] == attempts[1] == attempts[2]
    assert delays[:2] == [1, 2]


async def test_an_invalid_message_in_a_batch_is_dead_lettered_and_the_rest_handled(
    kit: BrokerKit,
) -> None:
    await kit.publisher.publish(kit.topic, b"a0", encode(article(0)))
    await kit.publisher.publish(kit.topic, b"bad", b"{not json")
    await kit.publisher.publish(kit.topic, b"a2", encode(article(2)))
    handled: list[str] = []
    done = asyncio.Event()

    async def one(message: RawArticle, record: Record) -> None:
        handled.append(message.article_id)
        if len(handled) == 2:
            done.set()

    async def many(messages: Sequence[tuple[RawArticle, Record]]) -> None:
        for message, record in messages:
            await one(message, record)

    loop = ConsumerLoop(await kit.source("gb4"), kit.publisher, RawArticle, one, batch_handler=many)
    await run_until(loop, done)
    [dead] = await kit.read_all(kit.topic + ".dlq", 1)
    assert dead.key == b"bad" and dead.header("dlq.reason") == b"invalid"
    assert handled == ["a0", "a2"]
