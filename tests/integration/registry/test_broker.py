"""The registry through the real broker, on SQLite and on PostgreSQL: alliances.extracted
in, alliances.changes out, however often messages are re-sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.common.contracts import (
    TOPIC_ALLIANCES_CHANGES,
    TOPIC_ALLIANCES_EXTRACTED,
    AllianceChange,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
    encode,
)
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource
from services.registry.adapters import outbox as outbox_rows
from services.registry.bootstrap import build_app
from services.registry.config import RegistrySettings
from tests.integration.registry.seeds import EXTRACTED_AT, event_of, gold_rows, seed_messages
from tools.localkafka import LocalKafka

OPERATOR = "integration-operator-token-0123456789"


async def publish_all(kafka: LocalKafka, topic: str, messages: list[ExtractedArticle]) -> None:
    publisher = KafkaPublisher(kafka.bootstrap_servers, client_id="test-feeder")
    await publisher.start()
    try:
        for message in messages:
            await publisher.publish(topic, message.article_id.encode(), encode(message))
    finally:
        await publisher.stop()


async def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def read_topic(
    kafka: LocalKafka, topic: str, group: str, expect: int, settle: float = 2.0
) -> list[Record]:
    """Everything on the topic: waits for ``expect`` records, then ``settle`` seconds more."""
    source = KafkaSource(kafka.bootstrap_servers, [topic], group, client_id=group)
    await source.start()
    records: list[Record] = []
    try:
        deadline = time.monotonic() + 60
        while len(records) < expect and time.monotonic() < deadline:
            records.extend(await source.fetch(0.5, 100))
        quiet_until = time.monotonic() + settle
        while time.monotonic() < quiet_until:
            records.extend(await source.fetch(0.3, 100))
    finally:
        await source.stop()
    return records


def settings_for(kafka: LocalKafka, prefix: str, database_url: str) -> RegistrySettings:
    values: dict[str, Any] = {
        "APP_ENV": "test",
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOPIC_PREFIX": prefix,
        "REGISTRY_GROUP_ID": f"{prefix}registry",
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_OPERATOR_TOKEN": OPERATOR,
        "REGISTRY_OUTBOX_POLL_SECONDS": 0.2,
    }
    return RegistrySettings(**values)


async def test_seeds_through_the_broker_give_four_alliances_and_one_change_each(
    kafka: LocalKafka, kafka_topics: str, database_url: str
) -> None:
    settings = settings_for(kafka, kafka_topics, database_url)
    app = build_app(settings)
    extracted = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    changes_topic = settings.topic(TOPIC_ALLIANCES_CHANGES)
    with TestClient(app) as client:

        def processed() -> int:
            loop = app.state.worker.loop
            return 0 if loop is None else int(loop.processed)

        def outbox_drained() -> bool:
            return not outbox_rows.pending_changes(app.state.repository.engine, 1)

        # The four seeds, re-sent three times, and re-extracted by a newer version.
        await publish_all(kafka, extracted, seed_messages() * 3 + seed_messages("gold-2"))
        await wait_until(lambda: processed() >= 16)
        await wait_until(outbox_drained)
        page = client.get("/v1/alliances", params={"limit": 50}).json()
        assert len(page["items"]) == 4
        assert app.state.queries.counts()["reports"] == 4
        assert {a["type"] for a in page["items"]} == {"specialty_alliance", "tight_consortium"}

        records = await read_topic(kafka, changes_topic, f"{kafka_topics}reader-1", expect=4)
        changes = [AllianceChange.model_validate_json(r.value or b"") for r in records]
        assert len(changes) == 4, [c.change_id for c in changes]
        assert {c.kind for c in changes} == {"created"}
        assert {c.alliance_id for c in changes} == {a["id"] for a in page["items"]}
        assert all(r.key == c.alliance_id.encode() for r, c in zip(records, changes, strict=True))

        # A differently worded report of the red-cross alliance merges into it.
        gold = next(r for r in gold_rows() if str(r["file"]).startswith("000"))
        reworded = event_of(
            gold["events"][0],  # type: ignore[index]
            lead=(InstitutionMention(name="陕西省西安市红会医院"),),
            date="2018-07",
            evidence=Evidence(text="红会医院与广汉二院签约骨科联盟", start=0, end=15),
        )
        other = ExtractedArticle(
            article_id="other-outlet",
            extractor_version="gold-2",
            relevant=True,
            events=(reworded,),
            extracted_at=EXTRACTED_AT,
        )
        await publish_all(kafka, extracted, [other, other])
        await wait_until(lambda: processed() >= 18)
        await wait_until(outbox_drained)
        page = client.get("/v1/alliances", params={"q": "红会"}).json()
        (alliance,) = page["items"]
        assert [s["article_id"] for s in alliance["sources"]] == ["seed-000", "other-outlet"]
        assert client.get("/v1/stats").json()["total"] == 4

        records = await read_topic(kafka, changes_topic, f"{kafka_topics}reader-2", expect=5)
        changes = [AllianceChange.model_validate_json(r.value or b"") for r in records]
        assert len({c.change_id for c in changes}) == len(changes) == 5
        (update,) = [c for c in changes if c.kind == "updated"]
        assert update.alliance_id == alliance["id"]
        assert "sources" in update.changed_fields
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready", ready
