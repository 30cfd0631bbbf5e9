"""``python -m services.extract replay`` on the real broker: articles.raw extracted again
with the current extractor into alliances.extracted, keyed like the live path, a broken
message dead-lettered like the live path, resumable (a second run publishes only what
arrived since), and the registry keeping the newer extraction of each article."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.common.contracts import (
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    ExtractedArticle,
    decode,
    dlq_topic,
    encode,
)
from services.common.db import make_engine
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource
from services.extract.entrypoints.replay import BoundedSource, replay
from services.extract.extraction import EXTRACTOR_VERSION, ArticleInput, ExtractionResult, extract
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.queries import RegistryQueries
from services.registry.entrypoints.consumer import apply_extraction
from services.registry.service import RegistryService
from tests.integration.extract.test_extract_service import demo_articles
from tools.localkafka import LocalKafka

ROOT = Path(__file__).resolve().parents[3]


class InProcess:
    """The current extractor in this process (the CLI runs it in a worker process)."""

    async def extract(self, article: ArticleInput) -> ExtractionResult:
        return await asyncio.to_thread(extract, article)


async def read_all(source: KafkaSource, quiet_seconds: float = 2.0) -> list[Record]:
    """What the topic gives until it stays quiet for ``quiet_seconds``."""
    found: list[Record] = []
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while loop.time() - quiet_since < quiet_seconds:
        batch = await source.fetch(0.5, 100)
        if batch:
            found.extend(batch)
            quiet_since = loop.time()
    return found


def run_cli(kafka: LocalKafka, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "services.extract", "replay", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_replay_is_resumable_and_the_registry_keeps_the_newer(
    kafka: LocalKafka, kafka_topics: str, tmp_path: Path
) -> None:
    raw_topic = kafka_topics + TOPIC_ARTICLES_RAW
    out_topic = kafka_topics + TOPIC_ALLIANCES_EXTRACTED
    articles = demo_articles()
    first, later = articles[:3], articles[3:5]
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    try:
        for article in first:
            await publisher.publish(raw_topic, article.article_id.encode(), encode(article))
        await publisher.publish(raw_topic, b"broken", b'{"schema_version": 1, "article_id": ')

        # The command, as an operator runs it: from the beginning to the end it saw.
        done = await asyncio.to_thread(run_cli, kafka, kafka_topics)
        assert done.returncode == 0, done.stderr
        assert "replay [" in done.stderr and "4/4 (100%)" in done.stderr
        assert "replayed 4 articles: 3 extracted, 1 dead-lettered" in done.stderr

        outputs = KafkaSource(kafka.bootstrap_servers, [out_topic], kafka_topics + "reader")
        letters = KafkaSource(
            kafka.bootstrap_servers, [dlq_topic(raw_topic)], kafka_topics + "dlq-reader"
        )
        await outputs.start()
        await letters.start()
        try:
            records = await read_all(outputs)
            assert sorted(r.key or b"" for r in records) == sorted(
                a.article_id.encode() for a in first
            )
            for record in records:
                message = decode(ExtractedArticle, record.value or b"")
                assert message.extractor_version == EXTRACTOR_VERSION
                assert record.key == message.article_id.encode()
            assert [r.key for r in await read_all(letters)] == [b"broken"]

            # New articles arrive; the same command continues after what it did.
            for article in later:
                await publisher.publish(raw_topic, article.article_id.encode(), encode(article))
            source = BoundedSource(
                kafka.bootstrap_servers, raw_topic, kafka_topics + "extract-replay"
            )
            await source.start()
            out = io.StringIO()
            try:
                result = await replay(source, publisher, out_topic, InProcess(), out=out)
            finally:
                await source.stop()
            assert (result.total, result.done, result.extracted) == (2, 2, 2)
            assert result.finished and not result.halted
            more = await read_all(outputs)
            assert sorted(r.key or b"" for r in more) == sorted(
                a.article_id.encode() for a in later
            )
            records += more

            # Done: a third run has nothing to publish.
            again = await asyncio.to_thread(run_cli, kafka, kafka_topics)
            assert again.returncode == 0, again.stderr
            assert "replayed 0 articles: 0 extracted, 0 dead-lettered" in again.stderr
            assert await read_all(outputs, 1.0) == []

            # --restart starts over; --since an hour ago still covers every article.
            today = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
            restart = await asyncio.to_thread(
                run_cli, kafka, kafka_topics, "--restart", "--since", today
            )
            assert restart.returncode == 0, restart.stderr
            assert "replayed 6 articles: 5 extracted, 1 dead-lettered" in restart.stderr
            assert len(await read_all(outputs)) == 5
        finally:
            await outputs.stop()
            await letters.stop()
    finally:
        await publisher.stop()

    # The registry applies the replay's extractions and keeps them over an older one.
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(engine)
    try:
        repository = RegistryService(engine)
        messages = [decode(ExtractedArticle, r.value or b"") for r in records]
        outcomes = [(await apply_extraction(repository, m)).status for m in messages]
        assert outcomes == ["applied"] * len(messages)
        relevant = next(m for m in messages if m.relevant and m.events)
        older = relevant.model_copy(
            update={"extracted_at": relevant.extracted_at - timedelta(days=1), "events": ()}
        )
        assert (await apply_extraction(repository, older)).status == "stale"
        assert RegistryQueries(repository.engine).counts()["alliances"] > 0
    finally:
        engine.dispose()


async def test_a_replay_from_after_the_last_article_has_nothing_to_do(
    kafka: LocalKafka, kafka_topics: str
) -> None:
    raw_topic = kafka_topics + TOPIC_ARTICLES_RAW
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    try:
        article = demo_articles()[0]
        await publisher.publish(raw_topic, article.article_id.encode(), encode(article))
        source = BoundedSource(
            kafka.bootstrap_servers,
            raw_topic,
            kafka_topics + "extract-replay",
            since=datetime.now(UTC) + timedelta(hours=1),
        )
        await source.start()
        try:
            result = await replay(
                source,
                publisher,
                kafka_topics + TOPIC_ALLIANCES_EXTRACTED,
                InProcess(),
                out=io.StringIO(),
            )
        finally:
            await source.stop()
        assert (result.total, result.done, result.extracted, result.finished) == (0, 0, 0, True)
    finally:
        await publisher.stop()
