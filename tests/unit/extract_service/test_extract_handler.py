"""The extract step on the in-memory broker: result keyed by article, poison to the DLQ."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from services.common.contracts import ExtractedArticle, RawArticle, decode, encode
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.extract import handlers
from services.extract.extraction import EXTRACTOR_VERSION

NOW = datetime(2023, 10, 15, tzinfo=UTC)


def article(body: str) -> RawArticle:
    return RawArticle(
        article_id="u42",
        title="骨科专科联盟签约",
        body=body,
        published_at=date(2023, 10, 14),
        received_at=NOW,
    )


async def run_once(broker: InMemoryBroker) -> None:
    publisher = InMemoryPublisher(broker)
    handle = handlers.make_extract_handler(publisher, "alliances.extracted", clock=lambda: NOW)
    source = InMemorySource(broker, ["articles.raw"], "extract")
    loop = ConsumerLoop(source, publisher, RawArticle, handle)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.3)
    loop.request_stop()
    await task


async def test_an_article_becomes_one_extraction_result_keyed_by_its_id() -> None:
    broker = InMemoryBroker()
    body = "10月14日上午,山西医科大学第二医院与河津市人民医院签约成立骨科专科联盟。"
    broker.append("articles.raw", b"u42", encode(article(body)), ())
    await run_once(broker)
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: object) -> object:
        raise ValueError("unparseable page")

    monkeypatch.setattr(handlers, "extract", broken)
    broker = InMemoryBroker()
    broker.append("articles.raw", b"u42", encode(article("正文")), ())
    await run_once(broker)
    assert broker.records("alliances.extracted") == []
    [dead] = broker.records("articles.raw.dlq")
    assert dead.header("dlq.reason") == b"poison"
    assert b"unparseable page" in (dead.header("dlq.error") or b"")


async def test_an_oversized_article_is_dead_lettered_not_extracted() -> None:
    broker = InMemoryBroker()
    publisher = InMemoryPublisher(broker)
    handle = handlers.make_extract_handler(
        publisher, "alliances.extracted", clock=lambda: NOW, max_article_chars=100
    )
    broker.append("articles.raw", b"u42", encode(article("医" * 101)), ())
    loop = ConsumerLoop(InMemorySource(broker, ["articles.raw"], "x"), publisher, RawArticle, handle)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.3)
    loop.request_stop()
    await task
    [dead] = broker.records("articles.raw.dlq")
    assert dead.header("dlq.reason") == b"poison"
    assert b"over 100" in (dead.header("dlq.error") or b"")
