"""Subscription secrets at rest, on SQLite and PostgreSQL: migration 0002 seals the
plaintext rows of before, the key rotates (new key first, reseal, old key out), and a
secret no key opens stops the service at start-up with the reason."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from services.common.db import make_engine
from services.notify.adapters.migrate import current_revision, downgrade, upgrade
from services.notify.adapters.repository import NotifyRepository
from services.notify.adapters.sealing import SecretBox, new_key
from services.notify.bootstrap import build_app, build_components
from services.notify.entrypoints.reseal import (
    SecretsUnreadable,
    check_sealed_secrets,
    reseal_secrets,
)
from tests.clocks import FakeClock
from tests.unit.notify.conftest import fake_dns_resolver, make_settings
from tests.unit.notify.factories import change
from tests.unit.notify.receivers import Receiver

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwPDXn8E+Vbw8="
ROBOT_SECRET = "SEC7f3a9b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def plaintext_subscriptions_at_0001(engine: Engine, url: str) -> None:
    """Notify's database as revision 0001 left it: secrets in the clear."""
    upgrade(engine, "0001")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO bureaus (id, name, created_at) VALUES ('bur_1', '某局', :now)"),
            {"now": now},
        )
        for ident, channel, secret in (
            ("sub_webhook", "webhook", WEBHOOK_SECRET),
            ("sub_robot", "dingtalk", ROBOT_SECRET),
            ("sub_wecom", "wecom", None),
        ):
            connection.execute(
                sa.text(
                    "INSERT INTO subscriptions (id, bureau_id, name, channel, url, secret, "
                    "filters, enabled, created_at, updated_at) VALUES (:id, 'bur_1', 'x', "
                    ":channel, :url, :secret, '{}', :enabled, :now, :now)"
                ),
                {
                    "id": ident,
                    "channel": channel,
                    "url": url,
                    "secret": secret,
                    "enabled": True,
                    "now": now,
                },
            )


def stored(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, secret_sealed FROM subscriptions"))
        return {ident: sealed for ident, sealed in rows}


def test_migration_0002_seals_plaintext_secrets_and_downgrade_opens_them(engine: Engine) -> None:
    plaintext_subscriptions_at_0001(engine, "https://hooks.example.cn/x")
    box = SecretBox([new_key()])
    with pytest.raises(RuntimeError, match="needs NOTIFY_SECRETS_KEY"):
        upgrade(engine)
    upgrade(engine, box=box)
    assert current_revision(engine) == "0006"  # 0002, then 0003 to 0006
    columns = {c["name"] for c in sa.inspect(engine).get_columns("subscriptions")}
    assert "secret" not in columns and "secret_sealed" in columns
    sealed = stored(engine)
    assert sealed["sub_wecom"] is None
    assert box.open(sealed["sub_webhook"]) == WEBHOOK_SECRET
    assert box.open(sealed["sub_robot"]) == ROBOT_SECRET
    assert all(WEBHOOK_SECRET[6:20] not in (s or "") for s in sealed.values())

    downgrade(engine, "0001", box=box)
    with engine.connect() as connection:
        rows = dict(connection.execute(sa.text("SELECT id, secret FROM subscriptions")).all())
    assert rows == {"sub_webhook": WEBHOOK_SECRET, "sub_robot": ROBOT_SECRET, "sub_wecom": None}


async def test_the_key_rotates_without_losing_a_secret(engine: Engine) -> None:
    old, new = new_key(), new_key()
    plaintext_subscriptions_at_0001(engine, "https://hooks.example.cn/x")
    upgrade(engine, box=SecretBox([old]))
    repository = NotifyRepository(engine)
    rotating = SecretBox([new, old])
    assert await check_sealed_secrets(repository, rotating) == 2, "two wait for the reseal"

    report = await reseal_secrets(repository, rotating)
    assert (report.resealed, report.current, report.unreadable) == (2, 0, ())
    again = await reseal_secrets(repository, rotating)
    assert (again.resealed, again.current) == (0, 2), "idempotent"
    only_new = SecretBox([new])
    assert await check_sealed_secrets(repository, only_new) == 0
    sealed = stored(engine)
    assert only_new.open(sealed["sub_webhook"]) == WEBHOOK_SECRET

    with pytest.raises(SecretsUnreadable, match="2 subscription secrets") as caught:
        await check_sealed_secrets(repository, SecretBox([new_key()]))
    assert WEBHOOK_SECRET[6:14] not in str(caught.value)


async def test_a_resealing_never_overwrites_a_secret_changed_meanwhile(engine: Engine) -> None:
    old, new = new_key(), new_key()
    plaintext_subscriptions_at_0001(engine, "https://hooks.example.cn/x")
    upgrade(engine, box=SecretBox([old]))
    repository = NotifyRepository(engine)
    before = stored(engine)["sub_webhook"]
    assert before is not None
    rotated_by_bureau = SecretBox([new, old]).seal("whsec_" + "B" * 44)
    assert rotated_by_bureau is not None
    await repository.update_subscription(
        "bur_1", "sub_webhook", {"secret_sealed": rotated_by_bureau}
    )
    assert not await repository.replace_sealed_secret("sub_webhook", before, "stale")
    assert stored(engine)["sub_webhook"] == rotated_by_bureau


async def test_a_service_started_after_a_rotation_signs_with_the_same_secret(
    database_url: str,
) -> None:
    """Plaintext rows of before, migrated at start-up, resealed, and the alert still
    verifies with the secret the bureau holds."""
    receiver = Receiver().start()
    try:
        engine = make_engine(database_url)
        plaintext_subscriptions_at_0001(engine, receiver.url + "/hook")
        with engine.begin() as connection:  # the robot and wecom rows are not this test's
            connection.execute(
                sa.text("UPDATE subscriptions SET enabled = :no WHERE id <> 'sub_webhook'"),
                {"no": False},
            )
        engine.dispose()
        old, new = new_key(), new_key()
        for keys in (old, f"{new},{old}", new):
            settings = make_settings(database_url, NOTIFY_SECRETS_KEY=keys)
            parts = build_components(
                settings, clock=FakeClock(), rng=random.Random(2), resolver=fake_dns_resolver
            )
            app = build_app(settings, components=parts, consume=False, run_worker=False)
            async with app.router.lifespan_context(app):
                if keys == f"{new},{old}":
                    report = await reseal_secrets(parts.repository, parts.box)
                    assert report.resealed == 2
                await parts.service.receive_change(change(f"c-{len(receiver.received)}"))
                assert await parts.worker.run_once() == 1
        assert len(receiver.received) == 3
        for request in receiver.received:
            Webhook(WEBHOOK_SECRET).verify(request.body, request.headers)
    finally:
        receiver.stop()
