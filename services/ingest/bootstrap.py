"""Wires ingest: settings, the database (migrated at start-up), the Kafka publisher, the
seen-articles store, the HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.contracts import TOPIC_ARTICLES_RAW
from services.common.db import database_ready, make_engine
from services.common.http import create_app
from services.common.kafka.publisher import ManagedPublisher
from services.common.migrations import migrate_with_retry
from services.common.worker import connect_with_retry
from services.ingest.adapters.migrate import upgrade
from services.ingest.adapters.publisher import articles_publisher
from services.ingest.adapters.store import SeenArticles
from services.ingest.config import IngestSettings
from services.ingest.entrypoints.api import articles
from services.ingest.service import ClaimTimes, IngestService


def build_app(
    settings: IngestSettings | None = None, *, publisher: ManagedPublisher | None = None
) -> FastAPI:
    """``publisher`` replaces the Kafka producer, for unit tests with the in-memory broker."""
    settings = settings or IngestSettings()
    # What ingest keeps only spares Kafka a duplicate: the article is durable in Kafka
    # before it is remembered, so a record a power cut takes back means that a re-push is
    # published again and deduplicated downstream by article id. Nothing is lost, and a
    # push does not wait for two fsyncs.
    engine = make_engine(settings.database_url, sqlite_synchronous="NORMAL")
    seen = SeenArticles(engine)
    publisher = publisher or articles_publisher(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate_with_retry(lambda: upgrade(engine))
        connecting = asyncio.create_task(connect_with_retry(publisher.start, "Kafka"))
        try:
            yield
        finally:
            connecting.cancel()
            await publisher.stop()
            engine.dispose()

    app = create_app(
        title="Alliance Watch ingest",
        description="Crawlers push Chinese news articles here.",
        readiness={"kafka": publisher.check, "database": lambda: database_ready(engine)},
        body_limit=settings.body_limit,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ingest = IngestService(
        publisher,
        seen,
        settings.topic(TOPIC_ARTICLES_RAW),
        max_article_chars=settings.max_article_chars,
        claims=ClaimTimes(
            wait_seconds=settings.claim_wait_seconds,
            expiry_seconds=settings.claim_expiry_seconds,
        ),
    )
    app.include_router(articles.router)
    return app
