"""The channel table: every Channel has its entry, and a new channel is one module plus one
line in the table. The made-up "pager" robot (``pager_channel.py``) is delivered to through
the real consumer-side service and delivery worker, which know nothing of it but its
entry: its budget, its size limit, its digests and its error codes all come from there."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from services.notify.adapters.repository import filters_json, new_id
from services.notify.adapters.tables import SubscriptionRow
from services.notify.bootstrap import build_app, build_components
from services.notify.channels import CHANNEL_TABLE, ChannelSpec, UnknownChannel, spec_of
from services.notify.domain.models import Channel
from tests.clocks import FakeClock
from tests.unit.notify import pager_channel as pager
from tests.unit.notify.conftest import Api, fake_dns_resolver, make_settings
from tests.unit.notify.factories import alliance, change
from tests.unit.notify.receivers import Receiver, Reply

OK = Reply(200, {"Content-Type": "application/json"}, b'{"errcode":0}')


def test_every_channel_has_its_entry_in_the_table() -> None:
    missing = [c.value for c in Channel if c.value not in CHANNEL_TABLE]
    assert not missing, f"channels without an entry in services.notify.channels: {missing}"
    for name, spec in CHANNEL_TABLE.items():
        assert spec.name == name
        assert spec.render is not None and spec.make_sender is not None


def test_a_robot_entry_must_say_how_large_a_message_may_be() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        ChannelSpec(
            name="nameless",
            make_sender=pager.PagerSender,
            render=pager.SPEC.render,
            validate_target=pager.SPEC.validate_target,
            robot=pager.SPEC.robot,
        )


def test_a_name_without_an_entry_is_refused_by_name() -> None:
    with pytest.raises(UnknownChannel, match="pager"):
        spec_of("pager")


@pytest_asyncio.fixture
async def pager_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> AsyncIterator[Api]:
    # The one line a new channel needs (here only for this test).
    monkeypatch.setitem(CHANNEL_TABLE, pager.NAME, pager.SPEC)
    settings = make_settings(f"sqlite:///{tmp_path / 'notify.db'}")
    parts = build_components(
        settings,
        clock=clock,
        rng=random.Random(1),
        resolver=fake_dns_resolver,
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Api(client, parts, clock)


async def subscribe_pager(api: Api, url: str) -> tuple[str, str, dict[str, str]]:
    """A pager subscription, written straight to the store: the public API takes only the
    Channel names (the pager is no real channel), everything after that is notify's own."""
    bureau_id, auth = await api.bureau("四川省卫健委")
    now = api.clock.now()
    row = SubscriptionRow(
        id=new_id("sub"),
        bureau_id=bureau_id,
        name="值班寻呼",
        channel=pager.NAME,
        url=url,
        secret_sealed=api.parts.box.seal(None),
        filters=filters_json({}),
        created_at=now,
        updated_at=now,
    )
    await api.parts.repository.add_subscription(row)
    return bureau_id, row.id, auth


async def test_a_new_channel_is_one_module_and_one_line(pager_api: Api, receiver: Receiver) -> None:
    api = pager_api
    receiver.respond = lambda r: OK
    _, sub_id, auth = await subscribe_pager(api, receiver.url + "/page?token=t")
    burst = 12
    for n in range(burst):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n:02d}")))
    start = api.clock.now()
    while api.clock.now() - start < timedelta(minutes=10):
        await api.parts.worker.run_once()
        api.clock.advance(5)

    pages = [json.loads(r.body)["page"] for r in receiver.received]
    assert all(len(p["body"].encode("utf-8")) <= pager.MAX_BYTES for p in pages)
    assert any("医联体动态汇总" in p["title"] for p in pages), "the burst was folded"
    for n in range(burst):
        assert sum(f"al-{n:02d}/1.html" in p["body"] for p in pages) == 1, n
    # Never more than the pager's 3 a minute (its entry's budget, not DingTalk's 20).
    times = sorted(r.at for r in receiver.received)
    deliveries = (
        await api.client.get(f"/v1/deliveries?subscription_id={sub_id}&limit=100", headers=auth)
    ).json()["items"]
    assert len(deliveries) == burst
    assert all(d["status"] == "delivered" for d in deliveries)
    starts = []
    for item in deliveries:
        detail = (await api.client.get(f"/v1/deliveries/{item['id']}", headers=auth)).json()
        starts += [e["started_at"] for e in detail["log"]]
    minutes: dict[str, int] = {}
    for started in set(starts):
        minutes[started[:16]] = minutes.get(started[:16], 0) + 1
    assert max(minutes.values()) <= pager.PER_MINUTE
    assert len(times) == len(pages) < burst


async def test_the_new_channels_error_codes_come_from_its_entry(
    pager_api: Api, receiver: Receiver
) -> None:
    api = pager_api
    receiver.respond = lambda r: Reply(
        200, {"Content-Type": "application/json"}, b'{"errcode":7001,"errmsg":"slow down"}'
    )
    bureau_id, sub_id, auth = await subscribe_pager(api, receiver.url + "/page?token=t")
    await api.parts.service.receive_change(change("c-1", alliance("al-1")))
    await api.parts.worker.run_once()
    [delivery] = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert delivery["status"] == "pending" and "rate limited" in delivery["last_error"]
    # Its own block (5 minutes), no step of the retry schedule.
    api.clock.advance(pager.BLOCK - timedelta(seconds=1))
    await api.parts.worker.run_once()
    assert len(receiver.received) == 1
    receiver.respond = lambda r: Reply(
        200, {"Content-Type": "application/json"}, b'{"errcode":7002,"errmsg":"no such pager"}'
    )
    api.clock.advance(timedelta(seconds=2))
    await api.parts.worker.run_once()
    assert len(receiver.received) == 2
    # (Read from the store: the API shows Channel names only.)
    subscription = await api.parts.repository.get_subscription(bureau_id, sub_id)
    assert subscription is not None and not subscription.enabled
    assert "no such pager" in (subscription.disabled_reason or "")


async def test_a_stored_channel_missing_from_this_build_waits_instead_of_failing(
    api: Api, receiver: Receiver
) -> None:
    # The pager's subscription outlives the pager (a rollback): its alerts wait on the
    # retry schedule, ready to go once the channel is back, and are never lost.
    receiver.respond = lambda r: OK
    _, sub_id, auth = await subscribe_pager(api, receiver.url + "/page?token=t")
    await api.parts.service.receive_change(change("c-1", alliance("al-1")))
    await api.parts.worker.run_once()
    [delivery] = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert delivery["status"] == "pending" and delivery["next_attempt_at"] is not None
    assert "no channel 'pager'" in delivery["last_error"]
    assert receiver.received == []
