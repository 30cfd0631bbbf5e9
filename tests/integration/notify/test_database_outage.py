"""Notify's PostgreSQL database away for a minute while changes keep arriving on
``alliances.changes``: notify is not ready meanwhile, nothing is dead-lettered, and once the
database is back every change is matched and delivered to the webhook receiver exactly
once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
from standardwebhooks.webhooks import Webhook

from services.common.contracts import TOPIC_ALLIANCES_CHANGES, encode
from services.common.dlq import dlq_name, summarize
from services.common.kafka.publisher import KafkaPublisher
from services.notify.bootstrap import build_app
from tests.integration.outage import OUTAGE_SECONDS, allow_connections, retryable_failures
from tests.unit.notify.conftest import OPERATOR, make_settings
from tests.unit.notify.factories import alliance, change
from tests.unit.notify.receivers import Receiver
from tools.localkafka import LocalKafka
from tools.localpg import LocalPostgres

#: Changes published before the outage, and during it (one every ``_EVERY`` seconds).
_BEFORE = 6
_DURING = 30
_EVERY = OUTAGE_SECONDS / (_DURING + 5)


async def _wait(check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_notify_waits_for_its_database_and_delivers_every_change_once(
    kafka: LocalKafka, kafka_topics: str, postgres: LocalPostgres
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    settings = make_settings(
        url,
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        TOPIC_PREFIX=kafka_topics,
        NOTIFY_GROUP_ID=f"{kafka_topics}notify",
        KAFKA_RETRY_MAX_BACKOFF_SECONDS=1,
    )
    topic = settings.topic(TOPIC_ALLIANCES_CHANGES)
    app = build_app(settings)
    receiver = Receiver().start()
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()

    async def publish(number: int) -> None:
        message = change(f"c-{number}", alliance(f"al-{number}"))
        await publisher.publish(topic, message.alliance_id.encode(), encode(message))

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                answer = await client.post(
                    "/v1/bureaus",
                    json={"name": "四川省卫生健康委员会"},
                    headers={"Authorization": f"Bearer {OPERATOR}"},
                )
                auth = {"Authorization": f"Bearer {answer.json()['api_key']}"}
                body = {"name": "全部", "channel": "webhook", "url": receiver.url + "/all"}
                answer = await client.post("/v1/subscriptions", json=body, headers=auth)
                assert answer.status_code == 201, answer.text
                secret = answer.json()["secret"]

                async def ready() -> bool:
                    return (await client.get("/readyz")).status_code == 200

                await _wait(ready)
                for number in range(_BEFORE):
                    await publish(number)
                # Quiet before the outage: every delivery so far recorded as delivered, so
                # that no attempt is cut in two by it (that would be an at-least-once resend).
                await _wait(lambda: len(receiver.received) >= _BEFORE)

                async def all_delivered() -> bool:
                    answer = await client.get("/v1/deliveries?limit=500", headers=auth)
                    items = answer.json()["items"]
                    return len(items) == _BEFORE and all(i["status"] == "delivered" for i in items)

                await _wait(all_delivered)
                failures_before = retryable_failures(topic)

                allow_connections(postgres, name, False)
                away_since = time.monotonic()
                try:
                    for number in range(_BEFORE, _BEFORE + _DURING):
                        await publish(number)
                        await asyncio.sleep(_EVERY)
                    await _wait(lambda: app.state.worker.loop.retrying, timeout=30)
                    checks = (await client.get("/readyz")).json()["checks"]
                    assert checks["consumer"] is False and checks["database"] is False
                    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - away_since)))
                    assert not await ready()
                    assert len(receiver.received) == _BEFORE, "nothing matched while away"
                finally:
                    allow_connections(postgres, name, True)

                total = _BEFORE + _DURING
                await _wait(lambda: len(receiver.received) >= total, timeout=120)
                await _wait(ready, timeout=30)
                await asyncio.sleep(2)  # the time for a duplicate to show up
                assert retryable_failures(topic) > failures_before
        ids = Counter(r.json()["alliance"]["id"] for r in receiver.received)
        assert ids == Counter(f"al-{n}" for n in range(total)), "each change exactly once"
        for request in receiver.received:
            Webhook(secret).verify(request.body, request.headers)
        summary = await summarize(kafka.bootstrap_servers, dlq_name(topic))
        assert summary.count == 0
    finally:
        await publisher.stop()
        receiver.stop()
        postgres.drop_database(name)
