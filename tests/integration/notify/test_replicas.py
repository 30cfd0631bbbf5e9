"""Two notify replicas on one PostgreSQL database, at once: a change both consume is
recorded once, their delivery workers send each delivery once between them, and a claim
left by a replica that died goes to the other when its lease runs out."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
import sqlalchemy as sa

from services.notify.bootstrap import NotifyComponents, build_app, build_components
from tests.clocks import FakeClock
from tests.unit.notify.conftest import Api, fake_dns_resolver, make_settings
from tests.unit.notify.factories import alliance, change
from tests.unit.notify.receivers import Receiver
from tools.localpg import LocalPostgres


@pytest_asyncio.fixture
async def replicas(postgres: LocalPostgres) -> AsyncIterator[tuple[Api, NotifyComponents]]:
    """Replica one (with its HTTP API) and replica two: own engines, one database."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    # Small batches: the two workers race for the same due deliveries round after round.
    settings = make_settings(postgres.create_database(name), NOTIFY_WORKER_BATCH=4)
    clock = FakeClock()
    one = build_components(settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver)
    two = build_components(settings, clock=clock, rng=random.Random(2), resolver=fake_dns_resolver)
    app = build_app(settings, components=one, consume=False, run_worker=False)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
                yield Api(client, one, clock), two
    finally:
        await two.client.aclose()
        two.engine.dispose()
        postgres.drop_database(name)


async def subscribe(api: Api, url: str) -> None:
    _, auth = await api.bureau("某县卫健局")
    answer = await api.client.post(
        "/v1/subscriptions",
        json={"name": "x", "channel": "webhook", "url": url},
        headers=auth,
    )
    assert answer.status_code == 201, answer.text


async def test_a_change_both_replicas_consume_at_once_is_recorded_once(
    replicas: tuple[Api, NotifyComponents],
) -> None:
    api, two = replicas
    await subscribe(api, "https://hooks.example.cn/x")
    changes = [change(f"c-{n}", alliance(f"al-{n}")) for n in range(20)]
    created = await asyncio.gather(
        *(parts.service.receive_change(c) for c in changes for parts in (api.parts, two))
    )
    assert sum(created) == 20  # one delivery per change, whoever recorded it
    received = await two.repository.received_change_ids()
    assert sorted(received) == sorted(c.change_id for c in changes)
    assert await api.parts.repository.count_open() == 20


async def test_two_delivery_workers_send_each_delivery_once(
    replicas: tuple[Api, NotifyComponents],
) -> None:
    api, two = replicas
    receiver = Receiver().start()
    try:
        await subscribe(api, receiver.url + "/hook")
        for n in range(30):
            await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
        for _ in range(60):
            claimed = await asyncio.gather(api.parts.worker.run_once(), two.worker.run_once())
            if not any(claimed):
                if await two.repository.count_open() == 0:
                    break
                api.clock.advance(3600)  # a retry (the receiver dropped a connection)
        with two.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, status, attempts FROM deliveries"))
            deliveries = {ident: (status, attempts) for ident, status, attempts in rows}
        assert len(deliveries) == 30
        assert {status for status, _ in deliveries.values()} == {"delivered"}
        requests = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert set(requests) == set(deliveries)
        # Every request was an attempt of the replica that held the claim, none a second
        # replica's copy: no delivery got more requests than its attempts.
        assert all(requests[d] <= attempts for d, (_, attempts) in deliveries.items())
    finally:
        receiver.stop()


async def test_a_claim_left_by_a_dead_replica_goes_to_the_other_after_its_lease(
    replicas: tuple[Api, NotifyComponents],
) -> None:
    api, two = replicas
    await subscribe(api, "https://hooks.example.cn/x")
    for n in range(8):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=5)
    # Replica one claims everything and dies before sending (it never records an attempt).
    assert len(await api.parts.repository.claim_due(now, 20, lease)) == 8
    assert await two.repository.claim_due(now + lease - timedelta(seconds=1), 20, lease) == []
    taken = await two.repository.claim_due(now + lease + timedelta(seconds=1), 20, lease)
    assert len(taken) == 8


async def test_a_claim_skips_the_deliveries_another_replica_is_claiming(
    replicas: tuple[Api, NotifyComponents],
) -> None:
    """FOR UPDATE SKIP LOCKED: a replica takes the other due deliveries at once, instead
    of waiting for the rows another replica's claim holds and then finding them taken."""
    api, two = replicas
    await subscribe(api, "https://hooks.example.cn/x")
    for n in range(8):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=5)
    with two.engine.connect() as claiming:  # another replica, in the middle of its claim
        held = set(
            claiming.execute(
                sa.text("SELECT id FROM deliveries ORDER BY next_attempt_at, id LIMIT 3 FOR UPDATE")
            ).scalars()
        )
        taken = await asyncio.wait_for(api.parts.repository.claim_due(now, 20, lease), 10)
        assert len(taken) == 5 and not held & {d.id for d, _ in taken}
        claiming.rollback()
    rest = await two.repository.claim_due(now, 20, lease)
    assert {d.id for d, _ in rest} == held


async def test_claims_at_once_from_both_replicas_never_overlap(
    replicas: tuple[Api, NotifyComponents],
) -> None:
    api, two = replicas
    await subscribe(api, "https://hooks.example.cn/x")
    await api.parts.service.receive_changes(
        [(change(f"c-{n}", alliance(f"al-{n}")), None) for n in range(60)]
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=5)
    claims = await asyncio.gather(
        *(parts.repository.claim_due(now, 5, lease) for _ in range(6) for parts in (api.parts, two))
    )
    ids = [d.id for claim in claims for d, _ in claim]
    assert len(ids) == len(set(ids))
    # Rows another claim held were skipped, not waited for: most claims got a full batch.
    assert len(ids) >= 30
    ids += [d.id for d, _ in await two.repository.claim_due(now, 100, lease)]
    assert len(ids) == len(set(ids)) == 60
