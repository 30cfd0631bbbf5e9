"""Re-extraction replays articles.raw through the broker into the registry, resumably."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from services.common.contracts import (
    TOPIC_ARTICLES_RAW,
    AllianceEvent,
    RawArticle,
    encode,
)
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.source import KafkaSource
from services.registry.adapters.repository import RegistryRepository
from services.registry.entrypoints.reextract import Progress, reextract
from tests.integration.registry.seeds import seed_messages
from tools.localkafka import LocalKafka


@dataclass(frozen=True)
class FakeResult:
    relevant: bool
    events: tuple[AllianceEvent, ...]
    extractor_version: str


def fake_extractor(version: str):  # type: ignore[no-untyped-def]
    """Stands in for services.extract: the gold facts of each seed, by article id."""
    gold = {m.article_id: m for m in seed_messages()}

    def run(article: RawArticle) -> FakeResult:
        message = gold[article.article_id]
        return FakeResult(message.relevant, message.events, version)

    return run


async def replay(
    kafka: LocalKafka,
    topic: str,
    group: str,
    repository: RegistryRepository,
    version: str,
    limit: int | None = None,
) -> dict[str, int]:
    source = KafkaSource(kafka.bootstrap_servers, [topic], group, client_id=group)
    await source.start()
    out = io.StringIO()
    try:
        outcomes = await reextract(
            source,
            repository,
            fake_extractor(version),
            limit=limit,
            idle_seconds=3,
            progress=Progress(out=out),
        )
    finally:
        await source.stop()
    assert "reextract [" in out.getvalue()
    return dict(outcomes)


async def test_reextraction_is_resumable_and_reconciles(
    kafka: LocalKafka, kafka_topics: str, repository: RegistryRepository
) -> None:
    topic = kafka_topics + TOPIC_ARTICLES_RAW
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    try:
        for message in seed_messages() * 2:  # pushed twice
            raw = RawArticle(
                article_id=message.article_id,
                body="(article text is not stored in the repository)",
                received_at=datetime(2024, 6, 1, tzinfo=UTC),
            )
            await publisher.publish(topic, raw.article_id.encode(), encode(raw))
    finally:
        await publisher.stop()

    group = f"{kafka_topics}reextract-v1"
    first = await replay(kafka, topic, group, repository, "1", limit=3)
    assert sum(first.values()) == 3
    rest = await replay(kafka, topic, group, repository, "1")
    assert sum(rest.values()) == 5, "the run resumes after the articles it already did"
    assert repository.counts()["alliances"] == 4
    assert await replay(kafka, topic, group, repository, "1") == {}

    newer = await replay(kafka, topic, f"{kafka_topics}reextract-v2", repository, "2")
    assert newer == {"applied": 4, "unchanged": 4}
    counts = repository.counts()
    assert counts["alliances"] == 4 and counts["reports"] == 4
    assert counts["outbox"] == 4, "the same facts from a newer extractor are no change"
