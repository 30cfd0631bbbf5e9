"""The extract step: one raw article in, its extraction result out, keyed by article."""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from services.common import tracing
from services.common.contracts import ExtractedArticle, RawArticle, encode
from services.common.errors import PoisonError
from services.common.kafka.loop import Handler
from services.common.kafka.publisher import Publisher
from services.common.kafka.records import Record
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.extract.extraction import ArticleInput, ExtractionResult
from services.extract.isolation import ArticleOverBudget

log = logging.getLogger(__name__)

ARTICLES_EXTRACTED = Counter(
    "extract_articles_total", "Articles extracted, by relevance.", ["relevant"]
)
ARTICLES_TRUNCATED = Counter(
    "extract_articles_truncated_total",
    "Articles with more events than extraction keeps (the most confident were kept).",
)
EVENTS_EXTRACTED = Counter("extract_events_total", "Alliance events extracted, by type.", ["type"])


class ArticleExtractor(Protocol):
    """Extraction as the handler needs it (``isolation.ExtractionProcess`` in the service):
    raises ``PoisonError`` for an article that cannot be extracted (its ``reason`` says
    why) and ``RetryableError`` when the extractor itself is briefly unavailable."""

    async def extract(self, article: ArticleInput) -> ExtractionResult: ...


def to_message(article: RawArticle, result: ExtractionResult, now: datetime) -> ExtractedArticle:
    return ExtractedArticle(
        article_id=article.article_id,
        extractor_version=result.extractor_version,
        url=article.url,
        title=article.title,
        published_at=article.published_at,
        relevant=result.relevant,
        events=result.events,
        events_truncated=result.truncated,
        extracted_at=now,
    )


def make_extract_handler(
    publisher: Publisher,
    output_topic: str,
    *,
    extractor: ArticleExtractor,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
) -> Handler[RawArticle]:
    async def handle(article: RawArticle, record: Record) -> None:
        if len(article.body) > max_article_chars:
            # Ingest refuses such bodies; one may still come from a replay of older history.
            raise PoisonError(
                f"article body has {len(article.body)} characters, over {max_article_chars}"
            )
        source = ArticleInput(
            body=article.body,
            title=article.title,
            content_type=article.content_type.value,
            published=article.published_at,
        )
        try:
            with tracing.tracer().start_as_current_span(
                "extract article",
                attributes={"article.id": article.article_id, "article.chars": len(article.body)},
            ) as span:
                result = await extractor.extract(source)
                span.set_attribute("extract.relevant", result.relevant)
                span.set_attribute("extract.events", len(result.events))
        except ArticleOverBudget:
            log.warning(
                "extraction of %d characters overran its budget",
                len(article.body),
                extra={"article_id": article.article_id},
            )
            raise
        message = to_message(article, result, clock())
        await publisher.publish(output_topic, article.article_id.encode(), encode(message))
        ARTICLES_EXTRACTED.labels(str(result.relevant).lower()).inc()
        for event_type, count in Tally(e.type.value for e in result.events).items():
            EVENTS_EXTRACTED.labels(event_type).inc(count)
        if result.truncated:
            ARTICLES_TRUNCATED.inc()
            log.warning(
                "more events than extraction keeps; the %d most confident were kept",
                len(result.events),
                extra={"article_id": article.article_id},
            )
        log.info(
            "extracted %d events", len(result.events), extra={"article_id": article.article_id}
        )

    return handle
