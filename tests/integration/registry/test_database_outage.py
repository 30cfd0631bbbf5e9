"""The registry's PostgreSQL database away for a minute (the old retry budget was 6 s): the
extractions that arrive meanwhile wait, the registry is not ready, nothing is
dead-lettered, and once the database is back every one is applied and it is ready again."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from services.common.contracts import TOPIC_ALLIANCES_EXTRACTED
from services.common.dlq import dlq_name, summarize
from services.registry.bootstrap import build_app
from services.registry.config import RegistrySettings
from tests.integration.outage import OUTAGE_SECONDS, allow_connections, retryable_failures
from tests.integration.registry.seeds import seed_messages
from tests.integration.registry.test_broker import OPERATOR, publish_all, wait_until
from tools.localkafka import LocalKafka
from tools.localpg import LocalPostgres


async def test_the_registry_waits_for_its_database_and_dead_letters_nothing(
    kafka: LocalKafka, kafka_topics: str, postgres: LocalPostgres
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    values: dict[str, Any] = {
        "APP_ENV": "test",
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOPIC_PREFIX": kafka_topics,
        "REGISTRY_GROUP_ID": f"{kafka_topics}registry",
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_OPERATOR_TOKEN": OPERATOR,
        "REGISTRY_OUTBOX_POLL_SECONDS": 0.2,
        "KAFKA_RETRY_MAX_BACKOFF_SECONDS": 1,
    }
    settings = RegistrySettings(**values)
    topic = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    app = build_app(settings)
    try:
        with TestClient(app) as client:

            def processed() -> int:
                loop = app.state.worker.loop
                return 0 if loop is None else int(loop.processed)

            await publish_all(kafka, topic, seed_messages())
            await wait_until(lambda: processed() >= 4)
            failures_before = retryable_failures(topic)

            allow_connections(postgres, name, False)
            away_since = time.monotonic()
            try:
                await publish_all(kafka, topic, seed_messages("gold-2"))
                await wait_until(lambda: app.state.worker.loop.retrying, timeout=30)
                ready = client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["consumer"] is False
                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - away_since)))
                assert processed() == 4
                assert app.state.worker.loop.retrying
            finally:
                allow_connections(postgres, name, True)

            await wait_until(lambda: processed() >= 8)
            await wait_until(lambda: client.get("/readyz").status_code == 200, timeout=30)
            assert retryable_failures(topic) > failures_before
            assert client.get("/v1/stats").json()["total"] == 4
        summary = await summarize(kafka.bootstrap_servers, dlq_name(topic))
        assert summary.count == 0
    finally:
        postgres.drop_database(name)
