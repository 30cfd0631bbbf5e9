"""Wires the extract service: consume articles.raw, publish alliances.extracted."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.common.consumer_app import build_consumer_app
from services.common.contracts import TOPIC_ALLIANCES_EXTRACTED, TOPIC_ARTICLES_RAW, RawArticle
from services.extract.adapters.isolation import ExtractionProcess
from services.extract.config import ExtractSettings
from services.extract.entrypoints.consumer import (
    Outcomes,
    make_extract_batch_handler,
    make_extract_handler,
)


def build_app(settings: ExtractSettings | None = None) -> FastAPI:
    settings = settings or ExtractSettings()
    output = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    # Worker processes for the service's lifetime (each replaced when it overruns or
    # dies), shared by the consumer loops the service runs one after another.
    workers = [
        ExtractionProcess(budget_seconds=settings.article_budget_seconds)
        for _ in range(settings.workers)
    ]
    outcomes = Outcomes()

    async def start() -> None:
        for worker in workers:
            await worker.start()

    async def stop() -> None:
        await asyncio.gather(*(worker.stop() for worker in workers))

    async def ready() -> bool:
        return all([await worker.ready() for worker in workers])

    app = build_consumer_app(
        title="Alliance Watch extract",
        settings=settings,
        group_id=settings.group_id,
        topic=settings.topic(TOPIC_ARTICLES_RAW),
        model=RawArticle,
        make_handler=lambda publisher: make_extract_handler(
            publisher,
            output,
            extractor=workers[0],
            max_article_chars=settings.max_article_chars,
            outcomes=outcomes,
        ),
        make_batch_handler=lambda publisher: make_extract_batch_handler(
            publisher,
            output,
            extractors=workers,
            outcomes=outcomes,
            max_article_chars=settings.max_article_chars,
        ),
        readiness={"extraction": ready},
        on_startup=start,
        on_shutdown=stop,
    )
    app.state.extraction = workers[0]
    app.state.extraction_workers = workers
    return app
