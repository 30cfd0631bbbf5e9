"""The DLQ command against the real broker: the consumer loop dead-letters an invalid
message and two poison ones; ``list`` counts them by reason, ``show`` prints their keys,
reasons, origins and payloads, ``replay --dry-run`` publishes nothing and ``replay``
puts them back on their topic with their keys and headers but the dlq.* ones, where the
fixed handler takes them; the dead-letter topic is left as it was."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import context as otel_context

from services.common import tracing
from services.common.contracts import TOPIC_ARTICLES_RAW, RawArticle, dlq_topic, encode
from services.common.dlq import main
from services.common.errors import PoisonError
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource
from tools.localkafka import LocalKafka

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def article(n: int) -> bytes:
    return encode(RawArticle(article_id=f"a{n}", body=f"第{n}篇", received_at=datetime.now(UTC)))


async def consume(servers: str, topic: str, group: str, fixed: bool, expected: int) -> list[str]:
    """Run a consumer loop over ``topic`` until it has taken ``expected`` messages; before
    the fix, articles a1 and a2 are poison."""
    handled: list[str] = []
    taken = 0
    done = asyncio.Event()

    async def handle(message: RawArticle, record: Record) -> None:
        if not fixed and message.article_id in ("a1", "a2"):
            raise PoisonError("a bug in the handler")
        handled.append(message.article_id)

    publisher = KafkaPublisher(servers, client_id="dlq-test")
    source = KafkaSource(servers, [topic], group)
    await publisher.start()
    await source.start()

    class Counting(ConsumerLoop[RawArticle]):
        async def _process(self, record: Record) -> None:
            nonlocal taken
            await super()._process(record)
            taken += 1
            if taken >= expected:
                done.set()

    loop = Counting(source, publisher, RawArticle, handle)
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(done.wait(), 60)
    finally:
        loop.request_stop()
        await asyncio.wait_for(task, 30)
        await source.stop()
        await publisher.stop()
    return handled


async def publish(servers: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Publish within one trace, as ingest does: each message carries its traceparent."""
    publisher = KafkaPublisher(servers, client_id="dlq-test")
    await publisher.start()
    token = otel_context.attach(tracing.context_from_headers([("traceparent", TRACEPARENT)]))
    try:
        for key, value in items:
            await publisher.publish(topic, key, value)
    finally:
        otel_context.detach(token)
        await publisher.stop()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_list_show_and_replay_dead_letters(
    kafka: LocalKafka,
    kafka_topics: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    servers = kafka.bootstrap_servers
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", servers)
    monkeypatch.setenv("TOPIC_PREFIX", kafka_topics)
    topic = kafka_topics + TOPIC_ARTICLES_RAW
    started = datetime.now(UTC) - timedelta(seconds=5)
    asyncio.run(
        publish(
            servers,
            topic,
            [
                (b"broken", b'{"article_id": "x"'),
                (b"a0", article(0)),
                (b"a1", article(1)),
                (b"a2", article(2)),
                (b"a3", article(3)),
            ],
        )
    )
    handled = asyncio.run(consume(servers, topic, "before-fix", fixed=False, expected=5))
    assert sorted(handled) == ["a0", "a3"]

    summary = json.loads(run(capsys, "list", "articles.raw", "--json"))
    assert summary["topic"] == dlq_topic(topic)
    assert summary["count"] == 3
    assert {r: v["count"] for r, v in summary["reasons"].items()} == {"invalid": 1, "poison": 2}
    assert summary["oldest"] <= summary["newest"]
    table = run(capsys, "list", dlq_topic(topic))  # the full name works too
    assert "3 dead letters" in table and "poison" in table and "invalid" in table

    shown = run(capsys, "show", "articles.raw", "--limit", "10")
    assert shown.count("  reason   ") == 3
    for key in ("broken", "a1", "a2"):
        assert f"  key      {key}\n" in shown
    assert f"  origin   {topic}[" in shown
    assert "a bug in the handler" in shown and "第1篇" in shown
    only_poison = run(capsys, "show", "articles.raw", "--reason", "poison", "--limit", "1")
    assert only_poison.count("  reason   poison") == 1 and "invalid" not in only_poison

    dry = run(capsys, "replay", "articles.raw", "--dry-run", "--reason", "poison")
    assert "would replay 2 of 3 dead letters" in dry
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    none = run(capsys, "replay", "articles.raw", "--since", later)
    assert "replayed 0 of 3" in none

    done = run(
        capsys,
        "replay",
        "articles.raw",
        "--reason",
        "poison",
        "--since",
        started.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    assert f"replayed 2 of 3 dead letters (2 to {topic})" in done

    # Back on the topic: same keys and values, the trace kept, no dlq.* header.
    async def tail() -> list[Record]:
        reader = KafkaSource(servers, [topic], "reader")
        await reader.start()
        found: list[Record] = []
        try:
            for _ in range(60):
                found += await reader.fetch(0.5, 100)
                if len(found) >= 7:
                    break
        finally:
            await reader.stop()
        return found

    records = asyncio.run(tail())
    replayed = [r for r in records if r.key in (b"a1", b"a2")]
    assert len(replayed) == 4  # the two originals and the two replays
    for record in replayed:
        assert not any(k.startswith("dlq.") for k, _ in record.headers)
        assert (record.header("traceparent") or b"")[:35] == TRACEPARENT[:35]
    # The fixed handler takes the replays; nothing new is dead-lettered.
    again = asyncio.run(consume(servers, topic, "before-fix", fixed=True, expected=2))
    assert sorted(again) == ["a1", "a2"]
    assert json.loads(run(capsys, "list", "articles.raw", "--json"))["count"] == 3


def test_a_missing_topic_is_an_error(
    kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("TOPIC_PREFIX", "no-such-prefix.")
    assert main(["list", "articles.raw"]) == 1
    assert "no topic no-such-prefix.articles.raw.dlq" in capsys.readouterr().err
