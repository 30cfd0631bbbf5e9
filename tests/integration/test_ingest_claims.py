"""Of concurrent pushes of one article, alone or in batches, exactly one answers
``duplicate: false`` and one copy reaches the broker, on SQLite and PostgreSQL; a failed
publish or a dead process never blocks the article for good."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.contracts import RawArticle, decode
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher
from services.common.kafka.publisher import Headers, Outgoing, PartlyPublished
from services.ingest.adapters.store import SeenArticles
from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from services.ingest.domain.articles import ArticleCreate, article_id_for
from services.ingest.service import IngestService
from tests.integration.ingest_articles import claim

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
        asyncio.run(claim(service.seen, article_id, "a-dead-process", 600))
        busy = client.post("/v1/articles", json=article(1), headers=AUTH)
        assert busy.status_code == 503 and busy.headers["Retry-After"].isdigit()
        assert "still being stored" in busy.json()["detail"]

        an_hour_ago = SeenArticles(service.seen.engine, clock=lambda: time.time() - 3600)
        article_id = article_id_for(ArticleCreate.model_validate(article(2)))
        asyncio.run(claim(an_hour_ago, article_id, "a-process-dead-for-long", 600))
        taken_over = client.post("/v1/articles", json=article(2), headers=AUTH)
        assert taken_over.status_code == 202 and taken_over.json()["duplicate"] is False

        # In a batch, the same: only the article whose claim is fresh waits and gives up.
        asyncio.run(claim(an_hour_ago, id_of(article(3)), "a-process-dead-for-long", 600))
        batch = [article(1), article(3), article(4)]
        partly = client.post("/v1/articles/batch", json=batch, headers=AUTH)
        assert partly.status_code == 503
        results = partly.json()["detail"]["results"]
        assert [r["status"] for r in results] == ["unavailable", "accepted", "accepted"]
        assert "still being stored" in results[0]["error"]
    assert len(broker.records(TOPIC)) == 3


def push_batch(client: TestClient, items: list[dict[str, str]]) -> list[str]:
    answer = client.post("/v1/articles/batch", json=items, headers=AUTH)
    assert answer.status_code == 202, answer.text
    return [result["status"] for result in answer.json()["results"]]


def test_a_batch_answers_a_second_copy_of_an_article_duplicate_and_sends_an_update_after_it(
    client: TestClient, broker: InMemoryBroker
) -> None:
    first, other = article(1), article(2)
    updated = {**first, "body": "第1篇（更正）：医联体签约"}
    batch = [first, other, first, updated, updated]
    assert push_batch(client, batch) == [
        "accepted",
        "accepted",
        "duplicate",
        "accepted",  # new content at the same URL, as it would be pushed alone
        "duplicate",
    ]
    sent = [decode(RawArticle, r.value or b"") for r in broker.records(TOPIC)]
    of_first = [m.body for m in sent if m.url == first["url"]]
    assert of_first == [first["body"], updated["body"]], "the update is sent after the first"
    # The update is what is remembered: the first content again is news once more.
    assert push_batch(client, [updated, first]) == ["duplicate", "accepted"]


def test_a_batch_racing_single_pushes_of_its_articles_answers_each_article_new_once(
    client: TestClient, broker: InMemoryBroker
) -> None:
    items = [article(n) for n in range(10)]
    start = threading.Barrier(len(items) + 2, timeout=30)

    def push_alone(item: dict[str, str]) -> tuple[str, bool]:
        start.wait()
        answer = client.post("/v1/articles", json=item, headers=AUTH)
        assert answer.status_code == 202, answer.text
        return item["url"], answer.json()["duplicate"]

    def push_all(order: list[dict[str, str]]) -> list[tuple[str, bool]]:
        start.wait()
        answer = client.post("/v1/articles/batch", json=order, headers=AUTH)
        assert answer.status_code == 202, answer.text
        return [(order[r["index"]]["url"], r["duplicate"]) for r in answer.json()["results"]]

    with ThreadPoolExecutor(len(items) + 2) as pool:
        alone = [pool.submit(push_alone, item) for item in items]
        batches = [pool.submit(push_all, items), pool.submit(push_all, items[::-1])]
        answers = [push.result() for push in alone]
        answers += [answer for batch in batches for answer in batch.result()]
    for item in items:
        new = [duplicate for url, duplicate in answers if url == item["url"] and not duplicate]
        assert len(new) == 1, f"{item['url']}: {len(new)} of 3 pushes answered new"
    assert len(broker.records(TOPIC)) == len(items)


class LosingPublisher(SlowPublisher):
    """Acknowledges every message but those of the articles in ``lost``, as a broker does
    whose partition leader went away mid-batch."""

    def __init__(self, broker: InMemoryBroker) -> None:
        super().__init__(broker)
        self.lost: set[bytes] = set()

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        acknowledged = [message.key not in self.lost for message in messages]
        for message, ok in zip(messages, acknowledged, strict=True):
            if ok:
                await self.publish(message.topic, message.key, message.value, message.headers)
        if not all(acknowledged):
            raise PartlyPublished("the partition leader went away", acknowledged)


def test_a_broker_failure_mid_batch_keeps_the_acknowledged_and_a_repush_retries_the_rest(
    database_url: str, broker: InMemoryBroker
) -> None:
    publisher = LosingPublisher(broker)
    settings = IngestSettings(
        INGEST_API_TOKENS=TOKEN, INGEST_DATABASE_URL=database_url, TOPIC_PREFIX="t."
    )
    items = [article(n) for n in range(4)]
    with TestClient(build_app(settings, publisher=publisher)) as client:
        publisher.lost = {key_of(items[1]), key_of(items[3])}
        refused = client.post("/v1/articles/batch", json=items, headers=AUTH)
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert [r["status"] for r in refused.json()["detail"]["results"]] == [
            "accepted",
            "unavailable",
            "accepted",  # acknowledged after one that was not: kept all the same
            "unavailable",
        ]
        publisher.lost = set()
        # The crawler pushes the batch again: those acknowledged are remembered, the claims
        # of the others were released, so they are sent now without waiting.
        assert push_batch(client, items) == ["duplicate", "accepted", "duplicate", "accepted"]
    assert sorted(r.key or b"" for r in broker.records(TOPIC)) == sorted(map(key_of, items))


def id_of(item: dict[str, str]) -> str:
    return article_id_for(ArticleCreate.model_validate(item))


def key_of(item: dict[str, str]) -> bytes:
    return id_of(item).encode()
