"""Concurrent duplicates against the running ingest (its store on PostgreSQL): rounds of
simultaneous pushes of one article, singly and in batches. Exactly one push a round may
answer ``duplicate: false``, every other one ``duplicate: true``, and the article is in
articles.raw once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.contracts import TOPIC_ARTICLES_RAW
from tests.security.tally import Tally
from tools.harness import CRAWLER_TOKEN, Stack

ROUNDS = 5
PUSHES = 20
AUTH = {"Authorization": f"Bearer {CRAWLER_TOKEN}"}
#: A bound on reading the topic to its end, not a measure of anything.
READ_TIMEOUT_SECONDS = 60


def push_together(client: httpx.Client, ingest: str, article: dict[str, str]) -> list[str]:
    """PUSHES pushes released at once, every fourth in a batch: each answer as "new",
    "duplicate" or what else it was."""
    start = threading.Barrier(PUSHES)

    def push(n: int) -> str:
        start.wait()
        if n % 4 == 3:
            answer = client.post(ingest + "/v1/articles/batch", json=[article], headers=AUTH)
            if answer.status_code != 202:
                return f"batch answered {answer.status_code}"
            [item] = answer.json()["results"]
            return {"accepted": "new", "duplicate": "duplicate"}.get(item["status"], str(item))
        answer = client.post(ingest + "/v1/articles", json=article, headers=AUTH)
        if answer.status_code != 202:
            return f"answered {answer.status_code}"
        return "duplicate" if answer.json()["duplicate"] else "new"

    with ThreadPoolExecutor(PUSHES) as pool:
        return list(pool.map(push, range(PUSHES)))


async def copies_on(bootstrap: str, topic: str, partition_count: int) -> Counter[str]:
    """How many records each key has in ``topic``, read from its start to its end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        copies: Counter[str] = Counter()
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while await behind(consumer, ends):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    copies.update(r.key.decode() for r in records if r.key is not None)
        return copies
    finally:
        await consumer.stop()


async def behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    positions = [await consumer.position(tp) for tp in ends]
    return any(p < end for p, end in zip(positions, ends.values(), strict=True))


def test_of_concurrent_pushes_of_an_article_exactly_one_is_new(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/concurrent duplicates")
    ingest = stack["ingest"].url
    article_ids: list[str] = []
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=PUSHES)) as client:
        for round_ in range(ROUNDS):
            article = {
                "url": f"https://news.example.cn/race/{uuid.uuid4().hex}.html",
                "title": f"第{round_}轮",
                "body": "某市人民医院牵头成立医联体。",
            }
            answers = push_together(client, ingest, article)
            new = answers.count("new")
            for n, answer in enumerate(answers):
                problem = None if answer in ("new", "duplicate") else answer
                tally.check(f"round {round_} push {n}", problem)
            tally.check(f"round {round_}", None if new == 1 else f"{new} pushes answered new")
            again = client.post(ingest + "/v1/articles", json=article, headers=AUTH).json()
            article_ids.append(again["article_id"])
    assert stack.kafka is not None
    topic = stack.topic_prefix + TOPIC_ARTICLES_RAW
    copies = asyncio.run(copies_on(stack.kafka.bootstrap_servers, topic, stack.partitions))
    for article_id in article_ids:
        count = copies[article_id]
        tally.check(f"{article_id} in articles.raw", None if count == 1 else f"{count} copies")
    tally.report(capsys)
