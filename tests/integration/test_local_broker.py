"""Smoke tests of the real local Kafka broker (tools/localkafka.py) and tools/topics.py."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.common.contracts import (
    MAIN_TOPICS,
    TOPIC_ALLIANCES_CHANGES,
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    dlq_topic,
)
from tools import localkafka
from tools.localkafka import KafkaError, LocalKafka
from tools.topics import describe_topic_configs, ensure_topics, topic_names


async def _produce(bootstrap: str, topic: str, items: list[tuple[str, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value.encode(), key=key.encode())
    finally:
        await producer.stop()


async def _consume(
    consumer: AIOKafkaConsumer, want: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records until ``want`` arrived, or until ``timeout`` (then whatever came)."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(records) < want:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        batch = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
        for partition_records in batch.values():
            records.extend(partition_records)
    return records


def _consumer(bootstrap: str, topic: str, group: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def test_idempotent_producer_and_committed_group(
    kafka: LocalKafka, kafka_topics: str
) -> None:
    topic = kafka_topics + TOPIC_ALLIANCES_EXTRACTED
    sent = [(f"article-{i}", f"payload-{i}") for i in range(20)]
    await _produce(kafka.bootstrap_servers, topic, sent)

    group = f"group-{uuid.uuid4().hex[:8]}"
    first = _consumer(kafka.bootstrap_servers, topic, group)
    await first.start()
    try:
        records = await _consume(first, len(sent))
        await first.commit()
    finally:
        await first.stop()
    got = sorted((r.key or b"").decode() for r in records)
    assert got == sorted(key for key, _ in sent)
    assert {(r.key, r.value) for r in records} == {(k.encode(), v.encode()) for k, v in sent}

    # A second member of the same group starts from the committed offsets: nothing old
    # comes again, and a new message does come.
    second = _consumer(kafka.bootstrap_servers, topic, group)
    await second.start()
    try:
        assert await _consume(second, 1, timeout=3.0) == []
        await _produce(kafka.bootstrap_servers, topic, [("article-new", "fresh")])
        again = await _consume(second, 1)
    finally:
        await second.stop()
    assert [(r.key, r.value) for r in again] == [(b"article-new", b"fresh")]


async def test_admin_creates_and_describes_topics(kafka: LocalKafka, topic_prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        name = topic_prefix + "admin-check"
        response = await admin.create_topics([NewTopic(name, 2, 1)])
        assert [t["error_code"] for t in response.to_object()["topic_errors"]] == [0]
        # Creation is acknowledged by the controller; the broker's metadata follows shortly.
        for _ in range(100):
            (description,) = await admin.describe_topics([name])
            if description["error_code"] == 0 and description["partitions"]:
                break
            await asyncio.sleep(0.05)
        assert description["error_code"] == 0
        assert name in await admin.list_topics()
        assert sorted(p["partition"] for p in description["partitions"]) == [0, 1]
        assert all(p["replicas"] == [1] for p in description["partitions"])
        cluster = await admin.describe_cluster()
        assert [b["port"] for b in cluster["brokers"]] == [kafka.port]
        # Topics are never created by accident.
        missing = topic_prefix + "never-created"
        (absent,) = await admin.describe_topics([missing])
        assert absent["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    finally:
        await admin.close()


async def test_ensure_topics_is_idempotent_and_compacts_articles(
    kafka: LocalKafka, topic_prefix: str
) -> None:
    await ensure_topics(kafka.bootstrap_servers, partitions=3, prefix=topic_prefix)
    await ensure_topics(kafka.bootstrap_servers, partitions=3, prefix=topic_prefix)

    expected = [topic_prefix + t for t in MAIN_TOPICS] + [
        topic_prefix + dlq_topic(t) for t in MAIN_TOPICS
    ]
    assert sorted(topic_names(topic_prefix)) == sorted(expected)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        descriptions = {d["topic"]: d for d in await admin.describe_topics(expected)}
        for name in expected:
            assert descriptions[name]["error_code"] == 0, name
            assert len(descriptions[name]["partitions"]) == 3, name
        articles = await describe_topic_configs(admin, topic_prefix + TOPIC_ARTICLES_RAW)
        assert articles["cleanup.policy"] == "compact"
        assert articles["retention.ms"] == "-1"
        changes = await describe_topic_configs(admin, topic_prefix + TOPIC_ALLIANCES_CHANGES)
        assert changes["cleanup.policy"] == "delete"
    finally:
        await admin.close()


async def test_restart_with_same_dir_keeps_data(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    try:
        assert broker.start_seconds is not None
        prefix = "restart."
        topic = prefix + TOPIC_ARTICLES_RAW
        await ensure_topics(broker.bootstrap_servers, partitions=2, prefix=prefix)
        await _produce(broker.bootstrap_servers, topic, [("a", "1"), ("b", "2"), ("c", "3")])
        group = "restart-group"
        consumer = _consumer(broker.bootstrap_servers, topic, group)
        await consumer.start()
        try:
            assert len(await _consume(consumer, 3)) == 3
            await consumer.commit()
        finally:
            await consumer.stop()

        await asyncio.to_thread(broker.stop)
        assert not broker.is_running()
        assert not broker.pid_path.exists()
        await asyncio.to_thread(broker.start)
        assert broker.is_running()

        # The topics and their settings are still there, and so are the messages...
        await ensure_topics(broker.bootstrap_servers, partitions=2, prefix=prefix)
        reader = _consumer(broker.bootstrap_servers, topic, None)
        await reader.start()
        try:
            records = await _consume(reader, 3)
        finally:
            await reader.stop()
        assert sorted((r.key, r.value) for r in records) == [
            (b"a", b"1"),
            (b"b", b"2"),
            (b"c", b"3"),
        ]
        # ...and the group's committed offsets.
        await _produce(broker.bootstrap_servers, topic, [("d", "4")])
        resumed = _consumer(broker.bootstrap_servers, topic, group)
        await resumed.start()
        try:
            after = await _consume(resumed, 1)
        finally:
            await resumed.stop()
        assert [(r.key, r.value) for r in after] == [(b"d", b"4")]

        # A crash (SIGKILL) leaves nothing running either.
        await asyncio.to_thread(broker.kill)
        assert not broker.is_running()
    finally:
        await asyncio.to_thread(broker.stop)


def test_start_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        broker = LocalKafka(tmp_path / "busy", port=busy)
        with pytest.raises(KafkaError, match="already in use"):
            broker.start()
    assert not broker.is_running()


def test_cli_start_status_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "cli"
    port = localkafka.free_port()
    controller = localkafka.free_port()
    args = ["--dir", str(workdir), "--port", str(port), "--controller-port", str(controller)]
    try:
        assert localkafka.main(["start", *args]) == 0
        assert capsys.readouterr().out.strip() == f"127.0.0.1:{port}"
        pid = int((workdir / "kafka.pid").read_text())
        # Starting again finds the running broker and leaves it alone.
        assert localkafka.main(["start", "--dir", str(workdir)]) == 0
        assert "already running" in capsys.readouterr().err
        assert int((workdir / "kafka.pid").read_text()) == pid
        assert localkafka.main(["status", "--dir", str(workdir)]) == 0
        assert "ready" in capsys.readouterr().out
    finally:
        assert localkafka.main(["stop", "--dir", str(workdir)]) == 0
    assert localkafka.main(["status", "--dir", str(workdir)]) == 3
    assert not localkafka._pid_alive(pid)
    assert "Kafka Server started" in (workdir / "kafka.log").read_text()
