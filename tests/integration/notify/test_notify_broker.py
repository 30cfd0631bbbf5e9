"""Through the real broker: AllianceChange messages on ``alliances.changes`` reach local
webhook receivers as exactly one validly signed alert per matching subscription; a
receiver that is down, then up, gets its alerts on the retry schedule (fake clock)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from services.common.contracts import (
    TOPIC_ALLIANCES_CHANGES,
    AllianceChange,
    ChangeKind,
    EventType,
    dlq_topic,
    encode,
)
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.source import KafkaSource
from services.notify.bootstrap import NotifyComponents, build_app, build_components
from tests.clocks import FakeClock
from tests.unit.notify.conftest import OPERATOR, make_settings
from tests.unit.notify.factories import CHONGQING, NANBU, SHANXI, XIAN, alliance, change
from tests.unit.notify.receivers import Receiver, free_port
from tools.localkafka import LocalKafka


@dataclass
class Running:
    client: httpx.AsyncClient
    parts: NotifyComponents
    clock: FakeClock
    publisher: KafkaPublisher
    topic: str

    async def bureau(self, name: str) -> dict[str, str]:
        answer = await self.client.post(
            "/v1/bureaus", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        return {"Authorization": f"Bearer {answer.json()['api_key']}"}

    async def subscribe(self, auth: dict[str, str], url: str, **filters: Any) -> dict[str, Any]:
        body = {"name": "接收", "channel": "webhook", "url": url, "filters": filters}
        answer = await self.client.post("/v1/subscriptions", json=body, headers=auth)
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def publish(self, message: AllianceChange) -> None:
        await self.publisher.publish(self.topic, message.alliance_id.encode(), encode(message))

    async def deliveries(self, auth: dict[str, str]) -> list[dict[str, Any]]:
        answer = await self.client.get("/v1/deliveries?limit=500", headers=auth)
        return answer.json()["items"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def running(kafka: LocalKafka, kafka_topics: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'notify.db'}",
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        TOPIC_PREFIX=kafka_topics,
        NOTIFY_GROUP_ID=f"{kafka_topics}notify-{uuid.uuid4().hex[:6]}",
    )
    clock = FakeClock()
    parts = build_components(settings, clock=clock, rng=random.Random(5))
    app = build_app(settings, components=parts)
    publisher = KafkaPublisher(kafka.bootstrap_servers)
    await publisher.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                yield Running(
                    client, parts, clock, publisher, kafka_topics + TOPIC_ALLIANCES_CHANGES
                )
    finally:
        await publisher.stop()


async def eventually(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_each_matching_subscription_gets_exactly_one_signed_alert(
    running: Running, kafka: LocalKafka
) -> None:
    receiver = Receiver().start()
    try:
        sichuan = await running.bureau("四川省卫生健康委员会")
        shanxi = await running.bureau("山西省卫生健康委员会")
        sc_all = await running.subscribe(sichuan, receiver.url + "/sc-all", provinces=["四川"])
        sc_county = await running.subscribe(
            sichuan, receiver.url + "/sc-county", counties=["南部县"], types=["specialty_alliance"]
        )
        sx = await running.subscribe(shanxi, receiver.url + "/sx", provinces=["山西"])
        await running.subscribe(shanxi, receiver.url + "/sx-heart", specialties=["心血管"])
        await running.subscribe(sichuan, receiver.url + "/strict", min_confidence=0.99)

        ortho = alliance("al-ortho", members=(NANBU,))
        county = alliance(
            "al-county",
            type=EventType.county_community,
            specialty=None,
            lead=(SHANXI,),
            members=(XIAN,),
            provinces=("山西",),
        )
        cross = alliance("al-cross", members=(NANBU, CHONGQING), cross_province=True)
        messages = [
            change("c-ortho", ortho),
            change("c-county", county),
            change("c-ortho", ortho),  # the same change published twice
            change(
                "c-ortho-2",
                alliance("al-ortho", members=(NANBU,), sources=2),
                kind=ChangeKind.updated,
                changed_fields=("sources",),
            ),  # one more article: no alert
            change(
                "c-cross",
                cross,
                kind=ChangeKind.updated,
                changed_fields=("members",),
            ),
        ]
        for message in messages:
            await running.publish(message)

        expected = {
            ("/sc-all", "al-ortho"),
            ("/sc-county", "al-ortho"),
            ("/sx", "al-county"),
            ("/sc-all", "al-cross"),
            ("/sc-county", "al-cross"),
        }
        await receiver.wait_for(len(expected), timeout=60)
        await asyncio.sleep(1.5)  # give any duplicate the time to show up
        got = [(r.path, r.json()["alliance"]["id"]) for r in receiver.received]
        assert sorted(got) == sorted(expected), "exactly one alert per matching subscription"
        secrets = {"/sc-all": sc_all, "/sc-county": sc_county, "/sx": sx}
        for request in receiver.received:
            payload = Webhook(secrets[request.path]["secret"]).verify(request.body, request.headers)
            assert payload["type"] in ("alliance.created", "alliance.updated")
        assert len({r.headers["webhook-id"] for r in receiver.received}) == len(expected)
        # Each bureau's log holds its own deliveries only.
        assert len(await running.deliveries(sichuan)) == 4
        assert len(await running.deliveries(shanxi)) == 1
    finally:
        receiver.stop()


async def test_a_receiver_down_then_up_gets_its_alerts_on_the_schedule(running: Running) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = await running.bureau("南充市卫生健康委员会")
    sub = await running.subscribe(auth, url + "/hook", cities=["南充"])
    await running.publish(change("c-down", alliance("al-down")))

    async def attempted(count: int) -> Any:
        async def check() -> bool:
            items = await running.deliveries(auth)
            return bool(items) and items[0]["attempts"] >= count

        return check

    await eventually(await attempted(1))
    [delivery] = await running.deliveries(auth)
    assert delivery["status"] == "pending" and "ConnectError" in delivery["last_error"]

    running.clock.advance(4.4)  # inside the first wait (5 s ± 10 %): nothing is tried
    await asyncio.sleep(0.5)
    assert (await running.deliveries(auth))[0]["attempts"] == 1
    running.clock.advance(1.2)  # past it: the 2nd attempt, still down
    await eventually(await attempted(2))

    receiver = Receiver(port).start()
    try:
        running.clock.advance(4 * 60)  # inside the 2nd wait (5 min ± 10 %)
        await asyncio.sleep(0.5)
        assert receiver.received == []
        running.clock.advance(61 + 30)  # past it
        await receiver.wait_for(1, timeout=20)
        [request] = receiver.received
        payload = Webhook(sub["secret"]).verify(request.body, request.headers)
        assert payload["alliance"]["id"] == "al-down"
        await eventually(await attempted(3))
        detail = (await running.client.get(f"/v1/deliveries/{delivery['id']}", headers=auth)).json()
        assert detail["status"] == "delivered"
        assert [e["outcome"] for e in detail["log"]] == ["retry", "retry", "delivered"]
    finally:
        receiver.stop()


async def test_an_unprocessable_change_goes_to_the_dead_letter_topic(
    running: Running, kafka: LocalKafka
) -> None:
    poison = change("c" * 300, alliance("al-poison"))
    await running.publish(poison)
    reader = KafkaSource(
        kafka.bootstrap_servers, [dlq_topic(running.topic)], f"dlq-{uuid.uuid4().hex[:6]}"
    )
    await reader.start()
    try:
        found = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            found = await reader.fetch(0.5, 10)
        assert found and found[0].header("dlq.reason") == b"poison"
    finally:
        await reader.stop()
