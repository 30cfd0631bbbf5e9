"""Ingest answers 503 while its broker is down, accepts again once it is back, and every
article it acknowledged is in Kafka."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi.testclient import TestClient

from services.common.contracts import TOPIC_ARTICLES_RAW, RawArticle, decode
from services.common.kafka.source import KafkaSource
from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from tools.localkafka import LocalKafka
from tools.topics import ensure_topics

TOKEN = "integration-crawler-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def article(n: int) -> dict[str, str]:
    return {"url": f"https://news.example.cn/{n}.html", "title": f"第{n}篇", "body": "医联体签约"}


def wait_ready(client: TestClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.3)
    raise AssertionError(f"ingest not ready: {client.get('/readyz').json()}")


def test_ingest_during_a_broker_outage(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers, partitions=2))
        settings = IngestSettings(
            INGEST_API_TOKENS=TOKEN,
            INGEST_DATABASE_URL=f"sqlite:///{tmp_path}/ingest.db",
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            INGEST_SEND_TIMEOUT_SECONDS=3,
        )
        acknowledged: list[str] = []
        with TestClient(build_app(settings)) as client:
            wait_ready(client)
            for n in range(3):
                answer = client.post("/v1/articles", json=article(n), headers=AUTH)
                assert answer.status_code == 202
                acknowledged.append(answer.json()["article_id"])

            broker.stop()
            refused = client.post("/v1/articles", json=article(3), headers=AUTH)
            assert refused.status_code == 503
            assert int(refused.headers["Retry-After"]) > 0
            assert "retry" in refused.json()["detail"]
            assert client.get("/readyz").status_code == 503
            batch = [article(3), article(4)]
            refused_batch = client.post("/v1/articles/batch", json=batch, headers=AUTH)
            assert refused_batch.status_code == 503
            results = refused_batch.json()["detail"]["results"]
            assert [r["status"] for r in results] == ["unavailable", "unavailable"]

            broker.start()
            wait_ready(client)
            deadline = time.monotonic() + 60
            while True:  # the producer reconnects on its own; the crawler just retries
                answer = client.post("/v1/articles", json=article(3), headers=AUTH)
                if answer.status_code == 202 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert answer.status_code == 202, answer.text
            acknowledged.append(answer.json()["article_id"])
            again = client.post("/v1/articles/batch", json=batch + [article(5)], headers=AUTH)
            assert again.status_code == 202, again.text
            results = again.json()["results"]
            assert [r["status"] for r in results] == ["duplicate", "accepted", "accepted"]
            acknowledged += [r["article_id"] for r in results[1:]]

        found = asyncio.run(
            read_topic(broker.bootstrap_servers, TOPIC_ARTICLES_RAW, len(acknowledged))
        )
        assert set(acknowledged) <= found
    finally:
        broker.stop()


async def read_topic(bootstrap: str, topic: str, expected: int) -> set[str]:
    source = KafkaSource(bootstrap, [topic], "outage-reader")
    await source.start()
    found: set[str] = set()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            for record in await source.fetch(0.5, 100):
                found.add(decode(RawArticle, record.value or b"").article_id)
    finally:
        await source.stop()
    return found
