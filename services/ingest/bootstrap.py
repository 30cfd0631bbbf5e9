"""Wires ingest: settings, Kafka publisher, the seen-articles store, the HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.contracts import TOPIC_ARTICLES_RAW
from services.common.db import database_ready, make_engine
from services.common.http import create_app
from services.common.kafka.publisher import KafkaPublisher, ManagedPublisher
from services.common.worker import connect_with_retry
from services.ingest.api import router
from services.ingest.config import IngestSettings
from services.ingest.service import ClaimTimes, IngestService
from services.ingest.store import SeenArticles


def build_app(
    settings: IngestSettings | None = None, *, publisher: ManagedPublisher | None = None
) -> FastAPI:
    """``publisher`` replaces the Kafka producer, for unit tests with the in-memory broker."""
    settings = settings or IngestSettings()
    engine = make_engine(settings.database_url)
    seen = SeenArticles(engine)
    publisher = publisher or KafkaPublisher(
        settings.kafka_bootstrap_servers,
        client_id="ingest",
        send_timeout_seconds=settings.send_timeout_seconds,
        max_request_bytes=max(settings.max_article_bytes * 2, 1024 * 1024),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(seen.create_schema)
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
    app.include_router(router)
    return app
