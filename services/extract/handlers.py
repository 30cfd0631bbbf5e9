"""The extract step: one raw article in, its extraction result out, keyed by article."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import Counter

from services.common.contracts import ExtractedArticle, RawArticle, encode
from services.common.errors import PoisonError
from services.common.kafka.loop import Handler
from services.common.kafka.publisher import Publisher
from services.common.kafka.records import Record
from services.extract.extraction import ArticleInput, ExtractionResult, extract

log = logging.getLogger(__name__)

ARTICLES_EXTRACTED = Counter(
    "extract_articles_total", "Articles extracted, by relevance.", ["relevant"]
)
EVENTS_EXTRACTED = Counter("extract_events_total", "Alliance events extracted, by type.", ["type"])


def to_message(article: RawArticle, result: ExtractionResult, now: datetime) -> ExtractedArticle:
    return ExtractedArticle(
        article_id=article.article_id,
        extractor_version=result.extractor_version,
        url=article.url,
        title=article.title,
        published_at=article.published_at,
        relevant=result.relevant,
        events=result.events,
        extracted_at=now,
    )


#: Longer bodies are not news articles (a dump, a crawler fault) and would stall the step.
DEFAULT_MAX_ARTICLE_CHARS = 1_000_000


def make_extract_handler(
    publisher: Publisher,
    output_topic: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
) -> Handler[RawArticle]:
    async def handle(article: RawArticle, record: Record) -> None:
        if len(article.body) > max_article_chars:
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
            # Extraction is CPU work; a thread keeps /healthz answering meanwhile.
            result = await asyncio.to_thread(extract, source)
        except Exception as exc:
            # The extractor is deterministic: what fails once fails every time.
            raise PoisonError(f"extraction failed: {type(exc).__name__}: {exc}") from exc
        message = to_message(article, result, clock())
        await publisher.publish(output_topic, article.article_id.encode(), encode(message))
        ARTICLES_EXTRACTED.labels(str(result.relevant).lower()).inc()
        for event_type, count in Tally(e.type.value for e in result.events).items():
            EVENTS_EXTRACTED.labels(event_type).inc(count)
        log.info(
            "extracted %d events", len(result.events), extra={"article_id": article.article_id}
        )

    return handle
