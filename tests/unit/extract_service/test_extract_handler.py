"""The extract step on the in-memory broker: result keyed by article, poison to the DLQ,
and an article over its time budget dead-lettered while the partition moves on."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import pytest
from prometheus_client import REGISTRY

from services.common.contracts import ExtractedArticle, RawArticle, decode, encode
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.extract import service
from services.extract.adapters.isolation import ExtractFn, ExtractionProcess
from services.extract.entrypoints import consumer as handlers
from services.extract.extraction import EXTRACTOR_VERSION, ArticleInput, extract
from tests.unit.extract_service.extractors import MARK, fail_on_marked, hang_on_marked
from tests.unit.extract_service.loops import run_until_done

NOW = datetime(2023, 10, 15, tzinfo=UTC)
FORMATION = "10月14日上午,山西医科大学第二医院与河津市人民医院签约成立骨科专科联盟。"

MakeExtraction = Callable[..., ExtractionProcess]


@pytest.fixture
async def make_extraction() -> AsyncIterator[MakeExtraction]:
    """Worker processes for a test, each stopped at its end."""
    made: list[ExtractionProcess] = []

    def make(fn: ExtractFn = extract, budget_seconds: float = 10.0) -> ExtractionProcess:
        extraction = ExtractionProcess(fn, budget_seconds=budget_seconds)
        made.append(extraction)
        return extraction

    yield make
    for extraction in made:
        await extraction.stop()


def article(body: str, article_id: str = "u42") -> RawArticle:
    return RawArticle(
        article_id=article_id,
        title="骨科专科联盟签约",
        body=body,
        published_at=date(2023, 10, 14),
        received_at=NOW,
    )


async def run_until_extracted(
    broker: InMemoryBroker, extraction: ExtractionProcess, expected: int, timeout: float = 30
) -> None:
    """Run the extract step until ``expected`` results or dead letters exist, then stop."""
    publisher = InMemoryPublisher(broker)
    handle = handlers.make_extract_handler(
        publisher, "alliances.extracted", extractor=extraction, clock=lambda: NOW
    )
    source = InMemorySource(broker, ["articles.raw"], "extract")
    loop = ConsumerLoop(source, publisher, RawArticle, handle)
    await run_until_done(broker, loop, expected, timeout)


def over_budget_count() -> float:
    return REGISTRY.get_sample_value("extract_articles_over_budget_total") or 0.0


async def test_an_article_becomes_one_extraction_result_keyed_by_its_id(
    make_extraction: MakeExtraction,
) -> None:
    broker = InMemoryBroker()
    broker.append("articles.raw", b"u42", encode(article(FORMATION)), ())
    await run_until_extracted(broker, make_extraction(), expected=1)
    [record] = broker.records("alliances.extracted")
    result = decode(ExtractedArticle, record.value or b"")
    assert record.key == b"u42"
    assert result.extractor_version == EXTRACTOR_VERSION
    assert result.relevant and result.extracted_at == NOW
    [event] = result.events
    assert event.type.value == "specialty_alliance"
    assert [i.name for i in event.lead] == ["山西医科大学第二医院"]
    assert event.date == "2023-10-14"


async def test_an_article_the_extractor_cannot_handle_is_dead_lettered(
    make_extraction: MakeExtraction,
) -> None:
    broker = InMemoryBroker()
    broker.append("articles.raw", b"u42", encode(article(MARK + "正文")), ())
    await run_until_extracted(broker, make_extraction(fail_on_marked), expected=1)
    assert broker.records("alliances.extracted") == []
    [dead] = broker.records("articles.raw.dlq")
    assert dead.header("dlq.reason") == b"poison"
    assert b"ValueError: unparseable page" in (dead.header("dlq.error") or b"")


async def test_an_oversized_article_is_dead_lettered_not_extracted(
    make_extraction: MakeExtraction,
) -> None:
    broker = InMemoryBroker()
    publisher = InMemoryPublisher(broker)
    handle = handlers.make_extract_handler(
        publisher,
        "alliances.extracted",
        extractor=make_extraction(),
        clock=lambda: NOW,
        max_article_chars=100,
    )
    broker.append("articles.raw", b"u42", encode(article("医" * 101)), ())
    loop = ConsumerLoop(
        InMemorySource(broker, ["articles.raw"], "x"), publisher, RawArticle, handle
    )
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.3)
    loop.request_stop()
    await task
    [dead] = broker.records("articles.raw.dlq")
    assert dead.header("dlq.reason") == b"poison"
    assert b"over 100" in (dead.header("dlq.error") or b"")


async def test_the_partition_moves_past_an_article_over_its_time_budget(
    make_extraction: MakeExtraction,
) -> None:
    """One partition: before, the hanging article, after. The hanging one is dead-lettered
    as budget_exceeded once its second is up; the article behind it is still extracted
    (by the replacement worker), and every offset is committed."""
    broker = InMemoryBroker(partitions=1)
    for n, body in enumerate([FORMATION, MARK + FORMATION, FORMATION.replace("骨科", "心血管")]):
        broker.append("articles.raw", f"a{n}".encode(), encode(article(body, f"a{n}")), ())
    extraction = make_extraction(hang_on_marked, budget_seconds=1.0)
    await extraction.start()
    before = over_budget_count()
    started = time.monotonic()

    await run_until_extracted(broker, extraction, expected=3)

    assert time.monotonic() - started < 15, "the hanging article held the partition"
    results = [
        decode(ExtractedArticle, r.value or b"") for r in broker.records("alliances.extracted")
    ]
    assert [r.article_id for r in results] == ["a0", "a2"]
    assert [e.specialty for r in results for e in r.events] == ["骨科", "心血管"]
    [dead] = broker.records("articles.raw.dlq")
    assert dead.key == b"a1"
    assert dead.header("dlq.reason") == b"budget_exceeded"
    assert b"overran its 1 s budget" in (dead.header("dlq.error") or b"")
    assert dead.header("dlq.origin.offset") == b"1"
    assert over_budget_count() == before + 1
    assert broker.committed["extract"] == {("articles.raw", 0): 3}


def test_a_truncated_extraction_is_flagged_in_its_message() -> None:
    result = extract(ArticleInput(body=FORMATION, published=date(2023, 10, 14)))
    flagged = service.to_message(
        article(FORMATION), dataclasses.replace(result, truncated=True), NOW
    )
    assert flagged.events_truncated and flagged.events == result.events
    assert not service.to_message(article(FORMATION), result, NOW).events_truncated
