"""The extract step a fetch at once: partitions side by side on several extractors, each
partition in its order, one publish for the fetch, and no article extracted twice when a
poison article sends the fetch through the message-by-message pass."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime

import pytest
from prometheus_client import REGISTRY

from services.common.contracts import ExtractedArticle, RawArticle, decode, encode
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.extract.adapters.isolation import ExtractionProcess
from services.extract.entrypoints import consumer as handlers
from services.extract.extraction import ArticleInput, ExtractionResult, extract
from services.extract.service import Extractions, extract_each
from tests.unit.extract_service.extractors import MARK, hang_on_marked
from tests.unit.extract_service.loops import run_until_done

NOW = datetime(2023, 10, 15, tzinfo=UTC)
FORMATION = "10月14日上午,山西医科大学第二医院与河津市人民医院签约成立骨科专科联盟。"


class CountingExtractor:
    """The real extractor in-process, counting what it was asked; a body with MARK is
    poison, and ``flaky`` articles fail retryably once."""

    def __init__(self, flaky: Sequence[str] = ()) -> None:
        self.calls: Counter[str] = Counter()
        self.flaky = set(flaky)

    async def extract(self, article: ArticleInput) -> ExtractionResult:
        self.calls[article.title] += 1
        await asyncio.sleep(0.01)  # gives the other lane its turn
        if MARK in article.body:
            raise PoisonError("unparseable page")
        if article.title in self.flaky:
            self.flaky.discard(article.title)
            raise RetryableError("the extraction worker is restarting")
        return extract(article)

    async def extract_all(self, articles: Sequence[ArticleInput]) -> Extractions:
        return await extract_each(self, articles)


def article(n: int, body: str = FORMATION) -> RawArticle:
    # The title names the article, so the extractor can count calls per article.
    return RawArticle(
        article_id=f"a{n}",
        title=f"a{n}",
        body=body.replace("骨科", ["骨科", "心血管", "儿科", "眼科"][n % 4]),
        published_at=date(2023, 10, 14),
        received_at=NOW,
    )


async def run(
    broker: InMemoryBroker,
    extractors: Sequence[handlers.ArticleExtractor],
    expected: int,
    timeout: float = 30,
) -> None:
    """The extract loop with its batch handler until ``expected`` results or dead
    letters exist."""
    publisher = InMemoryPublisher(broker)
    outcomes = handlers.Outcomes()
    handle = handlers.make_extract_handler(
        publisher, "alliances.extracted", extractor=extractors[0], outcomes=outcomes
    )
    batch = handlers.make_extract_batch_handler(
        publisher, "alliances.extracted", extractors=extractors, outcomes=outcomes
    )
    source = InMemorySource(broker, ["articles.raw"], "extract")
    loop = ConsumerLoop(source, publisher, RawArticle, handle, batch_handler=batch)
    await run_until_done(broker, loop, expected, timeout)


def push(broker: InMemoryBroker, articles: Sequence[RawArticle]) -> None:
    for a in articles:
        broker.append("articles.raw", a.article_id.encode(), encode(a), ())


def extracted(broker: InMemoryBroker) -> list[tuple[int, str]]:
    """(partition, article id) of each result, in the order of each partition's log."""
    return [
        (r.partition, decode(ExtractedArticle, r.value or b"").article_id)
        for r in broker.records("alliances.extracted")
    ]


async def test_a_fetch_is_extracted_on_two_workers_and_each_partition_keeps_its_order() -> None:
    broker = InMemoryBroker(partitions=3)
    articles = [article(n) for n in range(12)]
    push(broker, articles)
    one, two = CountingExtractor(), CountingExtractor()

    await run(broker, [one, two], expected=12)

    results = extracted(broker)
    assert sorted(a for _, a in results) == sorted(a.article_id for a in articles)
    for partition in range(3):
        pushed = [
            a.article_id
            for a in articles
            if broker.partition_for(a.article_id.encode()) == partition
        ]
        assert [a for p, a in results if p == partition] == pushed
    # Both workers had articles, and no article was extracted twice.
    assert one.calls and two.calls
    assert set(one.calls).isdisjoint(two.calls)
    assert max((one.calls + two.calls).values()) == 1
    assert broker.committed["extract"] == {
        ("articles.raw", p): len(broker.logs[("articles.raw", p)]) for p in range(3)
    }


async def test_a_poison_article_is_dead_lettered_and_the_rest_are_extracted_once() -> None:
    broker = InMemoryBroker(partitions=1)
    articles = [article(0), article(1, MARK + FORMATION), article(2)]
    push(broker, articles)
    extractor = CountingExtractor()

    await run(broker, [extractor], expected=3)

    assert [a for _, a in extracted(broker)] == ["a0", "a2"]
    [dead] = broker.records("articles.raw.dlq")
    assert dead.key == b"a1" and dead.header("dlq.reason") == b"poison"
    # a0 and the poison a1 came from the batch's findings in the message-by-message pass;
    # a2 waited behind a1 in its partition, so it is extracted once, in that pass.
    assert extractor.calls == {"a0": 1, "a1": 1, "a2": 1}


async def test_a_worker_briefly_unavailable_is_waited_for_and_nothing_is_extracted_twice() -> None:
    broker = InMemoryBroker(partitions=1)
    push(broker, [article(0), article(1), article(2)])
    extractor = CountingExtractor(flaky=["a1"])

    await run(broker, [extractor], expected=3)

    assert [a for _, a in extracted(broker)] == ["a0", "a1", "a2"]
    assert broker.records("articles.raw.dlq") == []
    assert extractor.calls == {"a0": 1, "a1": 2, "a2": 1}


class NoWorkerForItsSecondBatch(CountingExtractor):
    """As ``CountingExtractor``, except that no worker can be started for its second batch
    (``extract_all`` raises, as the worker process's does when its warm-up fails)."""

    def __init__(self, flaky: Sequence[str] = ()) -> None:
        super().__init__(flaky)
        self.batches = 0

    async def extract_all(self, articles: Sequence[ArticleInput]) -> Extractions:
        self.batches += 1
        if self.batches == 2:
            raise RetryableError("extraction worker not warm after 60 s")
        return await super().extract_all(articles)


async def test_what_a_fetch_found_is_kept_when_no_worker_can_be_started_for_the_rest() -> None:
    broker = InMemoryBroker(partitions=1)
    push(broker, [article(0), article(1), article(2)])
    # The first batch extracts a0 and fails on a1; the second finds a0 and has no worker
    # for a1 and a2; the third finds a0 again.
    extractor = NoWorkerForItsSecondBatch(flaky=["a1"])

    await run(broker, [extractor], expected=3)

    assert [a for _, a in extracted(broker)] == ["a0", "a1", "a2"]
    assert extractor.batches >= 3
    assert extractor.calls == {"a0": 1, "a1": 2, "a2": 1}


@pytest.fixture
async def hanging_worker() -> AsyncIterator[ExtractionProcess]:
    extraction = ExtractionProcess(hang_on_marked, budget_seconds=1.0)
    await extraction.start()
    yield extraction
    await extraction.stop()


async def test_an_article_over_its_budget_in_a_fetch_overruns_it_once(
    hanging_worker: ExtractionProcess,
) -> None:
    broker = InMemoryBroker(partitions=1)
    push(broker, [article(0), article(1, MARK + FORMATION), article(2)])
    before = REGISTRY.get_sample_value("extract_articles_over_budget_total") or 0.0

    await run(broker, [hanging_worker], expected=3)

    assert [a for _, a in extracted(broker)] == ["a0", "a2"]
    [dead] = broker.records("articles.raw.dlq")
    assert dead.key == b"a1" and dead.header("dlq.reason") == b"budget_exceeded"
    after = REGISTRY.get_sample_value("extract_articles_over_budget_total") or 0.0
    assert after == before + 1
