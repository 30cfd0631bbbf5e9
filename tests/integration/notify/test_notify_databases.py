"""Notify on SQLite and on PostgreSQL: migrations, idempotent changes, exclusive claims,
the delivery flow through the HTTP API, and tenant scoping."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from services.common.contracts import ChangeKind
from services.common.db import make_engine
from services.notify.adapters.migrate import current_revision, downgrade, upgrade
from services.notify.adapters.repository import NotifyRepository
from services.notify.bootstrap import build_app, build_components
from tests.clocks import FakeClock
from tests.unit.notify.conftest import Api, fake_dns_resolver, make_settings
from tests.unit.notify.factories import alliance, change, rejection
from tests.unit.notify.receivers import Receiver, Reply


@pytest_asyncio.fixture
async def db_api(database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(database_url)
    clock = FakeClock()
    parts = build_components(
        settings, clock=clock, rng=random.Random(3), resolver=fake_dns_resolver
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Api(client, parts, clock)


async def test_migrations_run_at_start_up_and_again_harmlessly(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == "0006"
        repository = NotifyRepository(engine)
        assert await repository.list_bureaus() == []
    finally:
        engine.dispose()


def test_migration_0003_adds_the_trace_context_of_deliveries_and_takes_it_away(
    database_url: str,
) -> None:
    engine = make_engine(database_url)

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns("deliveries")}

    try:
        upgrade(engine)
        assert "trace_context" in columns()
        downgrade(engine, "0002")
        assert current_revision(engine) == "0002"
        assert "trace_context" not in columns()
        upgrade(engine)
        assert "trace_context" in columns()
    finally:
        engine.dispose()


def test_migration_0005_adds_digests_and_contacts_and_takes_them_away(database_url: str) -> None:
    engine = make_engine(database_url)

    def columns(table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}

    try:
        upgrade(engine)
        assert "cadence" in columns("subscriptions")
        assert "contact_email" in columns("bureaus")
        assert {"subscription_id", "period", "status"} <= columns("digest_periods")
        downgrade(engine, "0004")
        assert current_revision(engine) == "0004"
        assert "cadence" not in columns("subscriptions")
        assert "contact_email" not in columns("bureaus")
        assert not sa.inspect(engine).has_table("digest_periods")
        upgrade(engine)
        assert "cadence" in columns("subscriptions")
    finally:
        engine.dispose()


def test_migration_0004_adds_the_previous_secret_and_takes_it_away(database_url: str) -> None:
    engine = make_engine(database_url)
    added = {"previous_secret_sealed", "previous_secret_until"}

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns("subscriptions")}

    try:
        upgrade(engine)
        assert added <= columns()
        downgrade(engine, "0003")
        assert current_revision(engine) == "0003"
        assert not added & columns()
        upgrade(engine)
        assert added <= columns()
    finally:
        engine.dispose()


def test_migration_0006_adds_the_portal_sessions_and_takes_them_away(database_url: str) -> None:
    engine = make_engine(database_url)

    def tables() -> set[str]:
        return set(sa.inspect(engine).get_table_names())

    try:
        upgrade(engine)
        columns = {c["name"] for c in sa.inspect(engine).get_columns("portal_sessions")}
        assert columns == {"id", "bureau_id", "key_id", "created_at", "expires_at"}
        downgrade(engine, "0005")
        assert current_revision(engine) == "0005" and "portal_sessions" not in tables()
        upgrade(engine)
        assert "portal_sessions" in tables()
    finally:
        engine.dispose()


async def test_the_delivery_flow(db_api: Api) -> None:
    api = db_api
    receiver = Receiver().start()
    try:
        replies = iter([Reply(500), Reply(204), Reply(204)])
        receiver.respond = lambda r: next(replies)
        _, auth = await api.bureau("四川省卫生健康委员会")
        sub = (
            await api.client.post(
                "/v1/subscriptions",
                json={
                    "name": "省平台",
                    "channel": "webhook",
                    "url": receiver.url + "/hook",
                    "filters": {"provinces": ["四川"], "types": ["specialty_alliance"]},
                },
                headers=auth,
            )
        ).json()
        other = (
            await api.client.post(
                "/v1/subscriptions",
                json={
                    "name": "山西",
                    "channel": "webhook",
                    "url": receiver.url + "/shanxi",
                    "filters": {"provinces": ["山西"]},
                },
                headers=auth,
            )
        ).json()
        assert await api.parts.service.receive_change(change("c-1")) == 1
        assert await api.parts.service.receive_change(change("c-1")) == 0
        await api.parts.worker.run_once()
        api.clock.advance(6)
        await api.parts.worker.run_once()
        [request, retry] = receiver.received
        assert request.headers["webhook-id"] == retry.headers["webhook-id"]
        Webhook(sub["secret"]).verify(retry.body, retry.headers)
        items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
        assert [(d["subscription_id"], d["status"], d["attempts"]) for d in items] == [
            (sub["id"], "delivered", 2)
        ]
        assert not receiver.by_path("/shanxi")
        detail = (await api.client.get(f"/v1/deliveries/{items[0]['id']}", headers=auth)).json()
        started = [datetime.fromisoformat(e["started_at"]) for e in detail["log"]]
        assert all(s.tzinfo is not None for s in started)
        assert timedelta(seconds=4.5) <= started[1] - started[0] <= timedelta(seconds=6.5)
        # The other bureau sees none of it.
        _, intruder = await api.bureau("山西省卫生健康委员会")
        for path in (f"/v1/subscriptions/{sub['id']}", f"/v1/deliveries/{items[0]['id']}"):
            assert (await api.client.get(path, headers=intruder)).status_code == 404
        assert (
            await api.client.delete(f"/v1/subscriptions/{other['id']}", headers=intruder)
        ).status_code == 404
    finally:
        receiver.stop()


async def test_claims_are_exclusive_between_workers(db_api: Api) -> None:
    api = db_api
    _, auth = await api.bureau("某县卫健局")
    await api.client.post(
        "/v1/subscriptions",
        json={"name": "x", "channel": "webhook", "url": "https://hooks.example.cn/x"},
        headers=auth,
    )
    for n in range(10):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    repository = api.parts.repository
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=5)
    first, second = (
        await repository.claim_due(now, 6, lease),
        await repository.claim_due(now, 6, lease),
    )
    ids = [d.id for d, _ in first] + [d.id for d, _ in second]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert await repository.claim_due(now, 6, lease) == []
    assert len(await repository.claim_due(now + lease + timedelta(seconds=1), 20, lease)) == 10


async def test_a_retraction_reaches_only_the_subscription_that_was_told(db_api: Api) -> None:
    api = db_api
    _, auth = await api.bureau("四川省卫生健康委员会")
    ids = {}
    for name, province in (("told", "四川"), ("elsewhere", "山西")):
        answer = await api.client.post(
            "/v1/subscriptions",
            json={
                "name": name,
                "channel": "webhook",
                "url": f"https://hooks.example.cn/{name}",
                "filters": {"provinces": [province]},
            },
            headers=auth,
        )
        ids[name] = answer.json()["id"]
    assert await api.parts.service.receive_change(change("c-1")) == 1
    # Subscribed after the alert, matching: never told, so nothing to take back.
    late = await api.client.post(
        "/v1/subscriptions",
        json={"name": "late", "channel": "webhook", "url": "https://hooks.example.cn/late"},
        headers=auth,
    )
    assert late.status_code == 201
    assert await api.parts.service.receive_change(rejection("c-2")) == 1
    assert await api.parts.service.receive_change(rejection("c-2")) == 0
    items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert [(i["subscription_id"], i["type"]) for i in items] == [
        (ids["told"], "alliance.retracted"),
        (ids["told"], "alliance.created"),
    ]


async def test_a_batch_of_changes_is_read_at_once_and_written_at_once(db_api: Api) -> None:
    """The batch path's queries (each alliance's latest snapshot, who was told) on this
    database: a correction compared with the snapshot received before the batch, a
    rejection told to the subscription alerted earlier, a re-delivered batch ignored."""
    api = db_api
    _, auth = await api.bureau("四川省卫生健康委员会")
    answer = await api.client.post(
        "/v1/subscriptions",
        json={"name": "sc", "channel": "webhook", "url": "https://hooks.example.cn/sc"},
        headers=auth,
    )
    assert answer.status_code == 201
    first, second = alliance("al-1"), alliance("al-2", specialty="儿科")
    assert await api.parts.service.receive_change(change("c-0", first)) == 1
    api.clock.advance(timedelta(seconds=1))
    batch = [
        change("c-1", first.model_copy(update={"specialty": "眼科"}), kind=ChangeKind.updated),
        change("c-2", second),
        rejection("c-3", first),
    ]
    assert await api.parts.service.receive_changes([(c, None) for c in batch]) == 3
    assert await api.parts.service.receive_changes([(c, None) for c in batch]) == 0
    items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert sorted((i["alliance_id"], i["type"]) for i in items) == [
        ("al-1", "alliance.created"),
        ("al-1", "alliance.retracted"),
        ("al-1", "alliance.updated"),
        ("al-2", "alliance.created"),
    ]
