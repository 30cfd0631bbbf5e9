"""The extract step on articles.raw: the use case (``service.py``) on each article, its
message published to alliances.extracted keyed by article, counted and logged."""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime

from services.common import tracing
from services.common.contracts import RawArticle, encode
from services.common.kafka.loop import Handler
from services.common.kafka.publisher import Publisher
from services.common.kafka.records import Record
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.extract.adapters.isolation import ArticleOverBudget
from services.extract.metrics import ARTICLES_EXTRACTED, ARTICLES_TRUNCATED, EVENTS_EXTRACTED
from services.extract.service import ArticleExtractor, input_of, to_message

log = logging.getLogger(__name__)


def make_extract_handler(
    publisher: Publisher,
    output_topic: str,
    *,
    extractor: ArticleExtractor,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
) -> Handler[RawArticle]:
    async def handle(article: RawArticle, record: Record) -> None:
        source = input_of(article, max_article_chars)
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
