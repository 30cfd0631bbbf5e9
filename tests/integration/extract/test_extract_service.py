"""The extract service through the real broker: raw articles in, extraction results out,
malformed input to the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

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
from services.extract.handlers import make_extract_handler
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
    loop = ConsumerLoop(source, publisher, RawArticle, make_extract_handler(publisher, out_topic))
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
