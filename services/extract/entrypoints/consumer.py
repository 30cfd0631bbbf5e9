"""The extract step on articles.raw: the use case (``service.py``) on each article, its
message published to alliances.extracted keyed by article, counted and logged.

One message at a time (``make_extract_handler``), or a whole fetch at once
(``make_extract_batch_handler``): the articles of one partition in their order, different
partitions side by side when there are several extraction workers, and every message of
the fetch handed to the producer together.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from services.common import tracing
from services.common.contracts import RawArticle, encode
from services.common.errors import PoisonError
from services.common.kafka.loop import BatchHandler, Handler
from services.common.kafka.publisher import Outgoing, Publisher
from services.common.kafka.records import Record
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.extract.adapters.isolation import ArticleOverBudget
from services.extract.extraction import ExtractionResult
from services.extract.metrics import ARTICLES_EXTRACTED, ARTICLES_TRUNCATED, EVENTS_EXTRACTED
from services.extract.service import ArticleExtractor, input_of, to_message

log = logging.getLogger(__name__)


class Outcomes:
    """What a batch found for each article (a result, or why it is poison), kept until
    the batch is published: a batch tried again, or the message-by-message pass that
    follows a batch with a poison article in it, extracts no article twice, and an
    article over its budget does not overrun it a second time."""

    def __init__(self) -> None:
        self._by_article: dict[str, ExtractionResult | PoisonError] = {}

    def keep(self, article_id: str, outcome: ExtractionResult | PoisonError) -> None:
        self._by_article[article_id] = outcome

    def take(self, article_id: str) -> ExtractionResult | PoisonError | None:
        return self._by_article.pop(article_id, None)

    def forget(self) -> None:
        self._by_article.clear()


async def extract_article(
    extractor: ArticleExtractor, article: RawArticle, max_article_chars: int
) -> ExtractionResult:
    """The article's extraction in an ``extract article`` span; raises ``PoisonError``
    (``ArticleOverBudget`` among them) for an article that cannot be extracted."""
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
    return result


def count_extracted(article_id: str, result: ExtractionResult) -> None:
    """Metrics and the log line of one published extraction."""
    ARTICLES_EXTRACTED.labels(str(result.relevant).lower()).inc()
    for event_type, count in Tally(e.type.value for e in result.events).items():
        EVENTS_EXTRACTED.labels(event_type).inc(count)
    if result.truncated:
        ARTICLES_TRUNCATED.inc()
        log.warning(
            "more events than extraction keeps; the %d most confident were kept",
            len(result.events),
            extra={"article_id": article_id},
        )
    log.info("extracted %d events", len(result.events), extra={"article_id": article_id})


def make_extract_handler(
    publisher: Publisher,
    output_topic: str,
    *,
    extractor: ArticleExtractor,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
    outcomes: Outcomes | None = None,
) -> Handler[RawArticle]:
    """``outcomes``: shared with the batch handler, whose findings this one uses first."""

    async def handle(article: RawArticle, record: Record) -> None:
        found = outcomes.take(article.article_id) if outcomes is not None else None
        if isinstance(found, Exception):
            raise found
        result = found or await extract_article(extractor, article, max_article_chars)
        message = to_message(article, result, clock())
        await publisher.publish(output_topic, article.article_id.encode(), encode(message))
        count_extracted(article.article_id, result)

    return handle


def make_extract_batch_handler(
    publisher: Publisher,
    output_topic: str,
    *,
    extractors: Sequence[ArticleExtractor],
    outcomes: Outcomes,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
) -> BatchHandler[RawArticle]:
    """A fetch of articles: each partition's articles in order on one of ``extractors``
    (partitions spread over them), then all the messages published together. An article
    that cannot be extracted fails the batch once every other article was tried, so that
    the message-by-message pass (which dead-letters it) finds the rest in ``outcomes``."""
    if not extractors:
        raise ValueError("at least one extractor is needed")

    async def lane(
        extractor: ArticleExtractor, partitions: list[list[tuple[RawArticle, Record]]]
    ) -> list[tuple[RawArticle, Record, ExtractionResult, str | None]]:
        done: list[tuple[RawArticle, Record, ExtractionResult, str | None]] = []
        failure: Exception | None = None
        for in_partition in partitions:
            for article, record in in_partition:
                parent = tracing.context_from_headers(record.headers)
                with tracing.consumer_span(
                    record.topic, record.partition, record.offset, record.key, parent
                ):
                    found = outcomes.take(article.article_id)
                    try:
                        if isinstance(found, PoisonError):
                            raise found
                        result = found or await extract_article(
                            extractor, article, max_article_chars
                        )
                    except Exception as exc:
                        if isinstance(exc, PoisonError):
                            outcomes.keep(article.article_id, exc)
                        failure = failure or exc
                        break  # the rest of this partition waits behind the failed article
                    outcomes.keep(article.article_id, result)
                    done.append((article, record, result, tracing.current_carrier()))
        if failure is not None:
            raise failure
        return done

    async def handle(batch: Sequence[tuple[RawArticle, Record]]) -> None:
        by_partition: dict[tuple[str, int], list[tuple[RawArticle, Record]]] = defaultdict(list)
        for article, record in batch:
            by_partition[(record.topic, record.partition)].append((article, record))
        lanes: list[list[list[tuple[RawArticle, Record]]]] = [[] for _ in extractors]
        for number, in_partition in enumerate(by_partition.values()):
            lanes[number % len(extractors)].append(in_partition)
        finished = await asyncio.gather(
            *(lane(e, p) for e, p in zip(extractors, lanes, strict=True) if p),
            return_exceptions=True,
        )
        failure = next((f for f in finished if isinstance(f, BaseException)), None)
        if failure is not None:
            raise failure
        extracted = [
            item for lane_done in finished if isinstance(lane_done, list) for item in lane_done
        ]
        extracted.sort(key=lambda item: (item[1].partition, item[1].offset))
        now = clock()
        messages = [
            Outgoing(
                output_topic,
                article.article_id.encode(),
                encode(to_message(article, result, now)),
                trace_context=context,
            )
            for article, _, result, context in extracted
        ]
        # Not acknowledged (PartlyPublished): the batch is tried again, its extractions
        # kept in ``outcomes``; a message sent twice is deduplicated by the registry.
        await publisher.publish_many(messages)
        outcomes.forget()
        for article, _, result, _ in extracted:
            count_extracted(article.article_id, result)

    return handle
