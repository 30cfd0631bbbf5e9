"""A consumer SIGKILLed after its handler ran but before its commit gets the message again;
the idempotent handler leaves exactly one effect."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from services.common.contracts import TOPIC_ARTICLES_RAW, RawArticle, encode
from services.common.kafka.publisher import KafkaPublisher
from tools.localkafka import LocalKafka

ROOT = Path(__file__).resolve().parents[2]


def start_consumer(
    kafka: LocalKafka, topic: str, db: Path, hang_on: str | None = None
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "tests.integration.procs.counting_consumer",
        kafka.bootstrap_servers,
        topic,
        "crash-group",
        str(db),
    ]
    if hang_on:
        args.append(hang_on)
    return subprocess.Popen(args, cwd=ROOT)


def counts(db: Path) -> tuple[dict[str, int], int]:
    with sqlite3.connect(db) as connection:
        calls = dict(
            connection.execute(
                "SELECT article_id, COUNT(*) FROM calls GROUP BY article_id"
            ).fetchall()
        )
        effects = connection.execute("SELECT COUNT(*) FROM effects").fetchone()[0]
    return calls, effects


def wait_for(condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


async def test_sigkill_before_commit_redelivers_and_leaves_one_effect(
    kafka: LocalKafka, kafka_topics: str, tmp_path: Path
) -> None:
    topic = kafka_topics + TOPIC_ARTICLES_RAW
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    ids = [f"a{n}" for n in range(6)]
    try:
        for article_id in ids:
            article = RawArticle(article_id=article_id, body="正文", received_at=datetime.now(UTC))
            # One key, one partition: the order of handling is the order of sending.
            await publisher.publish(topic, b"same-partition", encode(article))
    finally:
        await publisher.stop()
    db = tmp_path / "effects.db"

    first = start_consumer(kafka, topic, db, hang_on="a3")
    try:
        wait_for(lambda: (tmp_path / "effects.db.hung").exists())
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    calls, effects = counts(db)
    assert calls["a3"] == 1 and effects == 4

    second = start_consumer(kafka, topic, db)
    try:
        wait_for(lambda: counts(db)[1] == len(ids))
        time.sleep(1)  # let any stray redelivery show up before counting
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    calls, effects = counts(db)
    assert calls["a3"] == 2, "the message in hand at the crash was delivered again"
    assert effects == len(ids), "and the idempotent handler left one effect per article"
    assert all(calls[i] == 1 for i in ids if i != "a3"), "committed messages were not redelivered"
