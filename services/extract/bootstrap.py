"""Wires the extract service: consume articles.raw, publish alliances.extracted."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.consumer_app import build_consumer_app
from services.common.contracts import TOPIC_ALLIANCES_EXTRACTED, TOPIC_ARTICLES_RAW, RawArticle
from services.extract.adapters.isolation import ExtractionProcess
from services.extract.config import ExtractSettings
from services.extract.entrypoints.consumer import make_extract_handler


def build_app(settings: ExtractSettings | None = None) -> FastAPI:
    settings = settings or ExtractSettings()
    output = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    # One worker process for the service's lifetime (replaced when it overruns or dies),
    # shared by the consumer loops the service runs one after another.
    extraction = ExtractionProcess(budget_seconds=settings.article_budget_seconds)
    app = build_consumer_app(
        title="Alliance Watch extract",
        settings=settings,
        group_id=settings.group_id,
        topic=settings.topic(TOPIC_ARTICLES_RAW),
        model=RawArticle,
        make_handler=lambda publisher: make_extract_handler(
            publisher,
            output,
            extractor=extraction,
            max_article_chars=settings.max_article_chars,
        ),
        readiness={"extraction": extraction.ready},
        on_startup=extraction.start,
        on_shutdown=extraction.stop,
    )
    app.state.extraction = extraction
    return app
