"""Of concurrent pushes of one article exactly one answers ``duplicate: false`` and one
copy reaches the broker, on SQLite and PostgreSQL; a failed publish or a dead process
never blocks the article for good."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher
from services.common.kafka.publisher import Headers
from services.ingest.adapters.store import SeenArticles
from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from services.ingest.domain.articles import ArticleCreate, article_id_for
from services.ingest.service import IngestService

TOKEN = "claims-crawler-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUSHES = 20
TOPIC = "t.articles.raw"


class SlowPublisher(InMemoryPublisher):
    """Takes a moment to be acknowledged, as a broker does, so concurrent pushes overlap."""

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        await asyncio.sleep(0.02)
        await super().publish(topic, key, value, headers)


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


def ingest(database_url: str, broker: InMemoryBroker, **settings: Any) -> TestClient:
    options = {
        "INGEST_API_TOKENS": TOKEN,
        "INGEST_DATABASE_URL": database_url,
        "TOPIC_PREFIX": "t.",
        **settings,
    }
    return TestClient(build_app(IngestSettings(**options), publisher=SlowPublisher(broker)))


@pytest.fixture
def client(database_url: str, broker: InMemoryBroker) -> Iterator[TestClient]:
    with ingest(database_url, broker) as c:
        yield c


def article(n: int) -> dict[str, str]:
    return {"url": f"https://news.example.cn/claims/{n}.html", "body": f"第{n}篇：医联体签约"}


def push_together(client: TestClient, item: dict[str, str]) -> list[tuple[int, bool | None]]:
    """PUSHES simultaneous pushes of ``item``, every fourth in a batch: (status, duplicate)."""
    start = threading.Barrier(PUSHES)

    def push(n: int) -> tuple[int, bool | None]:
        start.wait()
        if n % 4 == 3:
            answer = client.post("/v1/articles/batch", json=[item], headers=AUTH)
            if answer.status_code != 202:
                return answer.status_code, None
            [result] = answer.json()["results"]
            return result["code"], result["duplicate"]
        answer = client.post("/v1/articles", json=item, headers=AUTH)
        return answer.status_code, answer.json().get("duplicate")

    with ThreadPoolExecutor(PUSHES) as pool:
        return list(pool.map(push, range(PUSHES)))


def test_of_concurrent_pushes_exactly_one_answers_new(
    client: TestClient, broker: InMemoryBroker
) -> None:
    for n in range(3):
        answers = push_together(client, article(n))
        assert {status for status, _ in answers} == {202}, answers
        new = [duplicate for _, duplicate in answers if duplicate is False]
        assert len(new) == 1, f"round {n}: {len(new)} of {PUSHES} pushes answered new"
    assert len(broker.records(TOPIC)) == 3


def test_a_failed_publish_releases_the_claim_so_a_retry_is_accepted(
    client: TestClient, broker: InMemoryBroker
) -> None:
    broker.available = False
    refused = push_together(client, article(1))
    assert {status for status, _ in refused} == {503}, refused
    broker.available = True
    retried = push_together(client, article(1))
    assert sorted(duplicate for _, duplicate in retried if duplicate is not None) == [False] + [
        True
    ] * (PUSHES - 1)
    assert len(broker.records(TOPIC)) == 1


def test_a_claim_left_by_a_dead_process_blocks_the_article_only_until_it_expires(
    database_url: str, broker: InMemoryBroker
) -> None:
    fast = {"INGEST_SEND_TIMEOUT_SECONDS": 0.2, "INGEST_CLAIM_EXPIRY_SECONDS": 600}
    with ingest(database_url, broker, **fast) as client:
        service: IngestService = client.app.state.ingest  # type: ignore[attr-defined]
        article_id = article_id_for(ArticleCreate.model_validate(article(1)))
        asyncio.run(service.seen.claim(article_id, "a-dead-process", 600))
        busy = client.post("/v1/articles", json=article(1), headers=AUTH)
        assert busy.status_code == 503 and busy.headers["Retry-After"].isdigit()
        assert "still being stored" in busy.json()["detail"]

        an_hour_ago = SeenArticles(service.seen.engine, clock=lambda: time.time() - 3600)
        article_id = article_id_for(ArticleCreate.model_validate(article(2)))
        asyncio.run(an_hour_ago.claim(article_id, "a-process-dead-for-long", 600))
        taken_over = client.post("/v1/articles", json=article(2), headers=AUTH)
        assert taken_over.status_code == 202 and taken_over.json()["duplicate"] is False
    assert len(broker.records(TOPIC)) == 1
