"""Wires the extract service: consume articles.raw, publish alliances.extracted."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.consumer_app import build_consumer_app
from services.common.contracts import TOPIC_ALLIANCES_EXTRACTED, TOPIC_ARTICLES_RAW, RawArticle
from services.extract.config import ExtractSettings
from services.extract.handlers import make_extract_handler


def build_app(settings: ExtractSettings | None = None) -> FastAPI:
    settings = settings or ExtractSettings()
    output = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    return build_consumer_app(
        title="Alliance Watch extract",
        settings=settings,
        group_id=settings.group_id,
        topic=settings.topic(TOPIC_ARTICLES_RAW),
        model=RawArticle,
        make_handler=lambda publisher: make_extract_handler(
            publisher, output, max_article_chars=settings.max_article_chars
        ),
    )
