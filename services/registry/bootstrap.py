"""Wires the registry: migrations, the alliances.extracted consumer, the outbox relay to
alliances.changes, and the query API, in one process."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.consumer_app import build_consumer_app
from services.common.contracts import (
    TOPIC_ALLIANCES_CHANGES,
    TOPIC_ALLIANCES_EXTRACTED,
    ExtractedArticle,
)
from services.common.db import database_ready, make_engine
from services.common.http import create_app
from services.common.kafka.publisher import KafkaPublisher
from services.common.migrations import migrate_with_retry
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.outbox import OutboxRelay
from services.registry.adapters.queries import RegistryQueries
from services.registry.config import RegistrySettings
from services.registry.entrypoints.api import (
    alliances,
    analysts,
    articles,
    dashboard,
    institutions,
    network,
    renames,
    review,
    review_pages,
    stats,
    views,
)
from services.registry.entrypoints.consumer import (
    make_registry_batch_handler,
    make_registry_handler,
)
from services.registry.service import RegistryService


def include_api(app: FastAPI, repository: RegistryService, settings: RegistrySettings) -> None:
    app.state.repository = repository
    app.state.queries = RegistryQueries(repository.engine)
    app.state.settings = settings
    for module in (
        review,  # first: its /v1/alliances/{id}/... routes are more specific than alliances'
        alliances,
        institutions,
        stats,
        network,
        articles,
        renames,
        analysts,
        views,
        dashboard,
    ):
        app.include_router(module.router)
    review_pages.install(app, repository, settings)


def build_api(settings: RegistrySettings, repository: RegistryService) -> FastAPI:
    """The query API alone, without Kafka (for tests and read-only replicas)."""
    app = create_app(
        title="Alliance Watch registry",
        readiness={"database": lambda: database_ready(repository.engine)},
        body_limit=settings.body_limit,
    )
    include_api(app, repository, settings)
    return app


def build_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    engine = make_engine(settings.database_url)
    repository = RegistryService(engine)
    relay = OutboxRelay(
        engine,
        KafkaPublisher(settings.kafka_bootstrap_servers, client_id=f"{settings.group_id}-outbox"),
        settings.topic(TOPIC_ALLIANCES_CHANGES),
        poll_seconds=settings.outbox_poll_seconds,
        batch=settings.outbox_batch,
        public_base_url=settings.public_base_url,
    )

    async def startup() -> None:
        await migrate_with_retry(lambda: upgrade(engine))
        relay.start()

    async def shutdown() -> None:
        await relay.stop()
        engine.dispose()

    app = build_consumer_app(
        title="Alliance Watch registry",
        settings=settings,
        group_id=settings.group_id,
        topic=settings.topic(TOPIC_ALLIANCES_EXTRACTED),
        model=ExtractedArticle,
        make_handler=lambda publisher: make_registry_handler(repository, relay.wake),
        make_batch_handler=lambda publisher: make_registry_batch_handler(repository, relay.wake),
        readiness={"database": lambda: database_ready(engine), "outbox": relay.ready},
        on_startup=startup,
        on_shutdown=shutdown,
    )
    app.state.relay = relay
    include_api(app, repository, settings)
    return app
