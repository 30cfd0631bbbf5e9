"""The extract service through the real broker: raw articles in, extraction results out,
malformed input and an article over its time budget to the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from services.common.contracts import (
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    ExtractedArticle,
    RawArticle,
    decode,
    dlq_topic,
    encode,
)
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource
from services.extract.adapters.isolation import ExtractionProcess
from services.extract.bootstrap import build_app
from services.extract.config import ExtractSettings
from services.extract.entrypoints.consumer import make_extract_handler
from tests.unit.extract_service.extractors import MARK, gone, hang_on_marked
from tools.localkafka import LocalKafka

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "demo" / "articles.jsonl"


def demo_articles() -> list[RawArticle]:
    articles = []
    for n, line in enumerate(DEMO.read_text(encoding="utf-8").splitlines()):
        item = json.loads(line)
        articles.append(
            RawArticle(
                article_id=f"demo{n}",
                url=item["url"],
                title=item["title"],
                body=item["body"],
                content_type=item["content_type"],
                published_at=date.fromisoformat(item["published_at"]),
                received_at=datetime.now(UTC),
            )
        )
    return articles


async def read(source: KafkaSource, expected: int, timeout: float = 30) -> list[Record]:
    found: list[Record] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < expected and asyncio.get_running_loop().time() < deadline:
        found.extend(await source.fetch(0.5, 100))
    return found


async def test_raw_articles_in_extraction_results_out(kafka: LocalKafka, kafka_topics: str) -> None:
    raw_topic = kafka_topics + TOPIC_ARTICLES_RAW
    out_topic = kafka_topics + TOPIC_ALLIANCES_EXTRACTED
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    articles = demo_articles()
    for article in articles:
        await publisher.publish(raw_topic, article.article_id.encode(), encode(article))
    await publisher.publish(raw_topic, b"broken", b'{"schema_version": 1, "article_id": ')
    future = encode(articles[0]).replace(b'"schema_version":1', b'"schema_version":7')
    await publisher.publish(raw_topic, b"future", future)

    source = KafkaSource(kafka.bootstrap_servers, [raw_topic], kafka_topics + "extract")
    await source.start()
    extraction = ExtractionProcess()
    handle = make_extract_handler(publisher, out_topic, extractor=extraction)
    loop = ConsumerLoop(source, publisher, RawArticle, handle)
    task = asyncio.create_task(loop.run())
    results = KafkaSource(kafka.bootstrap_servers, [out_topic], kafka_topics + "reader")
    dead = KafkaSource(kafka.bootstrap_servers, [dlq_topic(raw_topic)], kafka_topics + "dlq")
    await results.start()
    await dead.start()
    try:
        extracted = [
            decode(ExtractedArticle, r.value or b"") for r in await read(results, len(articles))
        ]
        dead_letters = await read(dead, 2)
    finally:
        loop.request_stop()
        await task
        await extraction.stop()
        for client in (source, results, dead):
            await client.stop()
        await publisher.stop()

    by_id = {e.article_id: e for e in extracted}
    assert set(by_id) == {a.article_id for a in articles}
    assert all(e.extractor_version for e in extracted)
    relevant = [e for e in extracted if e.relevant]
    assert len(relevant) == 4, "four demo articles report a formation, one is a free clinic"
    assert not by_id["demo4"].relevant and by_id["demo4"].events == ()
    leads = {lead.name for e in relevant for event in e.events for lead in event.lead}
    assert {"西安市红会医院", "山西医科大学第二医院", "桂林市中西医结合医院"} <= leads
    for result in relevant:
        for event in result.events:
            assert event.evidence.text, "every event carries its evidence sentence"

    assert sorted(r.key or b"" for r in dead_letters) == [b"broken", b"future"]
    assert all(r.header("dlq.reason") == b"invalid" for r in dead_letters)
    assert all(r.header("dlq.origin.topic") == raw_topic.encode() for r in dead_letters)


async def test_an_article_over_its_time_budget_does_not_hold_its_partition(
    kafka: LocalKafka, kafka_topics: str
) -> None:
    """Three articles on one partition (one key puts them there, in order); the middle one
    never finishes. It is dead-lettered as budget_exceeded and the third is extracted."""
    raw_topic = kafka_topics + TOPIC_ARTICLES_RAW
    out_topic = kafka_topics + TOPIC_ALLIANCES_EXTRACTED
    first, second = demo_articles()[:2]
    hanging = first.model_copy(update={"article_id": "hanging", "body": MARK + first.body})
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    for article in (first, hanging, second):
        await publisher.publish(raw_topic, b"one-partition", encode(article))

    extraction = ExtractionProcess(hang_on_marked, budget_seconds=2.0)
    await extraction.start()
    source = KafkaSource(kafka.bootstrap_servers, [raw_topic], kafka_topics + "extract")
    await source.start()
    handle = make_extract_handler(publisher, out_topic, extractor=extraction)
    loop = ConsumerLoop(source, publisher, RawArticle, handle)
    started = time.monotonic()
    task = asyncio.create_task(loop.run())
    results = KafkaSource(kafka.bootstrap_servers, [out_topic], kafka_topics + "reader")
    dead = KafkaSource(kafka.bootstrap_servers, [dlq_topic(raw_topic)], kafka_topics + "dlq")
    await results.start()
    await dead.start()
    try:
        extracted = [decode(ExtractedArticle, r.value or b"") for r in await read(results, 2)]
        elapsed = time.monotonic() - started
        dead_letters = await read(dead, 1)
    finally:
        loop.request_stop()
        await task
        await extraction.stop()
        for client in (source, results, dead):
            await client.stop()
        await publisher.stop()

    assert [e.article_id for e in extracted] == [first.article_id, second.article_id]
    assert all(e.relevant for e in extracted)
    assert elapsed < 20, "the hanging article held the partition"
    [letter] = dead_letters
    assert decode(RawArticle, letter.value or b"").article_id == "hanging"
    assert letter.header("dlq.reason") == b"budget_exceeded"
    assert letter.header("dlq.origin.topic") == raw_topic.encode()


def readiness(client: TestClient, expected: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get("/readyz")
        if answer.status_code == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.status_code == expected, answer.text
    checks: dict[str, Any] = answer.json()["checks"]
    return checks


def test_the_service_is_not_ready_while_its_extraction_worker_is_gone(
    kafka: LocalKafka, kafka_topics: str
) -> None:
    settings = ExtractSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers, TOPIC_PREFIX=kafka_topics
    )
    app = build_app(settings)
    with TestClient(app) as client:
        assert readiness(client, 200) == {"kafka": True, "consumer": True, "extraction": True}
        worker = app.state.extraction.worker_pid
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert readiness(client, 503) == {"kafka": True, "consumer": True, "extraction": False}
        # The probe that found it gone started its successor: ready again once warm.
        assert readiness(client, 200) == {"kafka": True, "consumer": True, "extraction": True}
        assert app.state.extraction.worker_pid != worker
