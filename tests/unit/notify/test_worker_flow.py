"""The running delivery worker claims its next round while the last one's sends are in
flight, and still keeps the order of the alerts about one alliance to one endpoint, and
sends nothing more to an endpoint a round disabled."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from services.common.contracts import ChangeKind
from services.notify.bootstrap import build_app, build_components
from tests.clocks import FakeClock
from tests.unit.notify.conftest import Api, fake_dns_resolver, make_settings
from tests.unit.notify.factories import CHONGQING, NANBU, alliance, change
from tests.unit.notify.receivers import Received, Receiver, Reply
from tests.unit.notify.test_delivery import subscribe

#: How long the tests expect the other sends to take while one is held (the endpoint
#: holds it a little longer, within the client's timeout of 3 s).
HELD = 2.0


@pytest_asyncio.fixture
async def small_rounds(tmp_path: Path) -> AsyncIterator[Api]:
    """Rounds of two deliveries, four sends at once: a round is claimed while sends of
    the one before are still in flight."""
    settings = make_settings(
        f"sqlite:///{tmp_path / 'notify.db'}",
        NOTIFY_WORKER_BATCH=2,
        NOTIFY_WORKER_CONCURRENCY=4,
    )
    clock = FakeClock()
    parts = build_components(
        settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Api(client, parts, clock)


def held(
    change_ids: set[str], release: threading.Event, status: int = 204
) -> Callable[[Received], Reply]:
    """An endpoint that keeps the alerts of ``change_ids`` waiting (under the client's
    timeout) until ``release``, then answers them ``status``; the others at once."""

    def respond(request: Received) -> Reply:
        if request.json()["change_id"] in change_ids:
            release.wait(HELD + 0.5)
            return Reply(status)
        return Reply()

    return respond


def arrived(receiver: Receiver) -> list[str]:
    return [r.json()["change_id"] for r in list(receiver.received)]


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def statuses(api: Api, auth: dict[str, str]) -> dict[str, Any]:
    items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    return {item["change_id"]: item["status"] for item in items}


async def test_the_next_rounds_are_claimed_and_sent_while_a_send_is_in_flight(
    small_rounds: Api, receiver: Receiver
) -> None:
    api = small_rounds
    release = threading.Event()
    receiver.respond = held({"c-0", "c-1"}, release)
    _, auth = await api.bureau("某县卫健局")
    await subscribe(api, auth, url=receiver.url + "/hook")
    for n in range(6):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    api.parts.worker.start()
    try:
        # The first round's two sends hang; the rounds after it go out meanwhile.
        await until(lambda: set(arrived(receiver)) == {f"c-{n}" for n in range(6)}, HELD)
        assert api.parts.worker.rounds == 3
        assert not release.is_set()
        release.set()
        await until(lambda: api.parts.worker.rounds == 3 and not api.parts.worker._rounds)
    finally:
        release.set()
        await api.parts.worker.stop()
    assert set((await statuses(api, auth)).values()) == {"delivered"}
    assert Counter(arrived(receiver)) == Counter({f"c-{n}": 1 for n in range(6)})


async def test_alerts_about_one_alliance_keep_their_order_across_rounds_in_flight(
    small_rounds: Api, receiver: Receiver
) -> None:
    api = small_rounds
    release = threading.Event()
    receiver.respond = held({"c-1"}, release)
    _, auth = await api.bureau("南充市卫生健康委员会")
    await subscribe(api, auth, url=receiver.url + "/hook")
    await api.parts.service.receive_change(change("c-1", alliance("al-1", members=(NANBU,))))
    await api.parts.service.receive_change(change("c-2", alliance("al-2")))
    api.parts.worker.start()
    try:
        await until(lambda: {"c-1", "c-2"} <= set(arrived(receiver)))
        joined = alliance("al-1", members=(NANBU, CHONGQING), sources=3)
        updated = change("c-3", joined, kind=ChangeKind.updated, changed_fields=("members",))
        assert await api.parts.service.receive_change(updated) == 1
        await api.parts.service.receive_change(change("c-4", alliance("al-4")))
        # The next round is claimed and its other alliance goes out; the update of al-1
        # waits for the alert about al-1 still in flight.
        await until(lambda: "c-4" in arrived(receiver), HELD)
        assert api.parts.worker.rounds >= 2
        await asyncio.sleep(0.2)
        assert "c-3" not in arrived(receiver)
        release.set()
        await until(lambda: "c-3" in arrived(receiver))
    finally:
        release.set()
        await api.parts.worker.stop()
    order = arrived(receiver)
    assert order.index("c-1") < order.index("c-3")
    assert set((await statuses(api, auth)).values()) == {"delivered"}


async def test_a_round_claimed_before_its_endpoint_was_disabled_hands_its_alerts_back(
    small_rounds: Api, receiver: Receiver
) -> None:
    api = small_rounds
    release = threading.Event()
    receiver.respond = held({"c-1"}, release, status=410)
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/gone")
    await api.parts.service.receive_change(change("c-1", alliance("al-1", members=(NANBU,))))
    api.parts.worker.start()
    try:
        await until(lambda: "c-1" in arrived(receiver))
        joined = alliance("al-1", members=(NANBU, CHONGQING), sources=3)
        updated = change("c-2", joined, kind=ChangeKind.updated, changed_fields=("members",))
        assert await api.parts.service.receive_change(updated) == 1
        await until(lambda: api.parts.worker.rounds == 2, HELD)
        release.set()  # 410: the first round disables the endpoint
        await until(lambda: not api.parts.worker._rounds)
    finally:
        release.set()
        await api.parts.worker.stop()
    state = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert state["enabled"] is False and "410" in state["disabled_reason"]
    # The update was claimed before the endpoint was disabled, and never went out: it
    # waits, unattempted, for the endpoint to be enabled again.
    assert arrived(receiver) == ["c-1"]
    assert await statuses(api, auth) == {"c-1": "failed", "c-2": "pending"}
    detail = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert {item["change_id"]: item["attempts"] for item in detail} == {"c-1": 1, "c-2": 0}
    assert json.loads(receiver.received[0].body)["type"] == "alliance.created"
