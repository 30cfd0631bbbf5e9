"""The outbox relay marks a change sent only once the broker acknowledged it."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text

from services.common.contracts import AllianceChange
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher
from services.common.kafka.publisher import BrokerUnavailable, Headers
from services.registry.adapters import outbox as outbox_rows
from services.registry.adapters.outbox import OutboxRelay
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService
from tests.integration.registry.test_repository import NOW, apply, seed_messages

TOPIC = "t.alliances.changes"


class FlakyPublisher(InMemoryPublisher):
    """Acknowledges ``allow`` messages, then fails until allowed again."""

    def __init__(self, broker: InMemoryBroker, allow: int) -> None:
        super().__init__(broker)
        self.allow = allow

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        if self.allow <= 0:
            raise BrokerUnavailable("broker away")
        self.allow -= 1
        await super().publish(topic, key, value, headers)


async def test_only_acknowledged_changes_are_marked_sent(
    repository: RegistryService,
) -> None:
    for message in seed_messages():
        apply(repository, message)
    broker = InMemoryBroker()
    publisher = FlakyPublisher(broker, allow=1)
    relay = OutboxRelay(repository.engine, publisher, TOPIC, clock=lambda: NOW)
    with contextlib.suppress(BrokerUnavailable):
        await relay.relay_once()
    assert len(broker.records(TOPIC)) == 1
    assert len(outbox_rows.pending_changes(repository.engine, 10)) == 3, (
        "the unacknowledged three stay pending"
    )

    publisher.allow = 100
    assert await relay.drain() == 3
    assert await relay.drain() == 0, "nothing is sent twice"
    records = broker.records(TOPIC)
    changes = [AllianceChange.model_validate_json(r.value or b"") for r in records]
    assert len({c.change_id for c in changes}) == 4
    assert all(r.key == c.alliance_id.encode() for r, c in zip(records, changes, strict=True))
    assert all(row.sent_at is not None for row in outbox_rows.outbox(repository.engine))
    assert sorted(c.change_id for c in changes) == sorted(
        r.change_id for r in outbox_rows.outbox(repository.engine)
    )


async def test_each_change_carries_its_alliance_page(repository: RegistryService) -> None:
    for message in seed_messages():
        apply(repository, message)
    settings = RegistrySettings(PUBLIC_BASE_URL="https://watch.example.cn/registry/")  # type: ignore[call-arg]
    broker = InMemoryBroker()
    relay = OutboxRelay(
        repository.engine,
        InMemoryPublisher(broker),
        TOPIC,
        clock=lambda: NOW,
        public_base_url=settings.public_base_url,
    )
    assert await relay.drain() == 4
    changes = [AllianceChange.model_validate_json(r.value or b"") for r in broker.records(TOPIC)]
    for change in changes:
        assert change.alliance.url == (
            f"https://watch.example.cn/registry/alliances/{change.alliance_id}"
        )
        assert change.alliance.url == settings.alliance_url(change.alliance_id)
    # What the table keeps is the change as committed; the page is added on the way out.
    assert all(
        AllianceChange.model_validate_json(r.payload).alliance.url is None
        for r in outbox_rows.outbox(repository.engine)
    )


async def test_publishing_does_not_wait_for_the_changes_to_be_marked_sent(
    repository: RegistryService,
) -> None:
    """Another transaction holds the outbox's rows (as the registry's own writes do, back
    to back, under load): the relay still publishes everything pending, and marks it sent
    once the rows are free, without sending any of it twice."""
    for message in seed_messages():
        apply(repository, message)
    broker = InMemoryBroker()
    relay = OutboxRelay(repository.engine, InMemoryPublisher(broker), TOPIC, clock=lambda: NOW)
    holder = repository.engine.connect()
    holder.execute(text("UPDATE outbox SET sent_at = sent_at"))  # a write lock, not committed
    try:
        assert await asyncio.wait_for(relay.relay_once(), timeout=30) == 4
        assert len(broker.records(TOPIC)) == 4
        assert await asyncio.wait_for(relay.relay_once(), timeout=30) == 0, (
            "what was sent and is not yet marked is not read again"
        )
    finally:
        holder.rollback()
        holder.close()
    assert await relay.drain() == 0
    assert len(broker.records(TOPIC)) == 4
    assert outbox_rows.pending_changes(repository.engine, 10) == []
