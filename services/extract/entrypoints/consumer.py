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
from services.extract.extraction import ArticleInput, ExtractionResult
from services.extract.metrics import ARTICLES_EXTRACTED, ARTICLES_TRUNCATED, EVENTS_EXTRACTED
from services.extract.service import (
    ArticleExtractor,
    BatchExtractor,
    Extractions,
    input_of,
    to_message,
)

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
        warn_over_budget(article)
        raise
    return result


def warn_over_budget(article: RawArticle) -> None:
    log.warning(
        "extraction of %d characters overran its budget",
        len(article.body),
        extra={"article_id": article.article_id},
    )


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


#: An article extracted in a batch: its record, its result and its trace context.
Extracted = tuple[RawArticle, Record, ExtractionResult, str | None]


def traced(
    article: RawArticle,
    record: Record,
    result: ExtractionResult,
    times: tuple[int, int] | None,
) -> Extracted:
    """The article's ``process`` span (with its ``extract article`` span, timed as the
    worker's answer was, when it was extracted now rather than found from an earlier try),
    and the trace context its message carries."""
    started, finished = times if times is not None else (None, None)
    parent = tracing.context_from_headers(record.headers)
    with tracing.consumer_span(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        parent,
        start_time=started,
        end_on_exit=False,
    ) as span:
        if times is not None:
            with tracing.tracer().start_as_current_span(
                "extract article",
                attributes={
                    "article.id": article.article_id,
                    "article.chars": len(article.body),
                    "extract.relevant": result.relevant,
                    "extract.events": len(result.events),
                },
                start_time=started,
                end_on_exit=False,
            ) as extraction:
                extraction.end(end_time=finished)
        context = tracing.current_carrier()
    span.end(end_time=finished)
    return article, record, result, context


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
    extractors: Sequence[BatchExtractor],
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

    async def in_order(
        extractor: BatchExtractor, in_partition: list[tuple[RawArticle, Record]]
    ) -> tuple[list[Extracted], Exception | None]:
        """One partition's articles in order, those not already found in ``outcomes`` in one
        exchange with ``extractor``, up to the first that fails (and its failure)."""
        found: list[ExtractionResult | None] = []
        wanted: list[ArticleInput] = []
        failure: Exception | None = None
        for article, _ in in_partition:
            known = outcomes.take(article.article_id)
            try:
                if isinstance(known, PoisonError):
                    raise known
                if known is None:
                    wanted.append(input_of(article, max_article_chars))
            except PoisonError as exc:
                outcomes.keep(article.article_id, exc)
                failure = exc
                break  # the rest of this partition waits behind the failed article
            found.append(known)
        try:
            extractions = await extractor.extract_all(wanted)
        except Exception as exc:  # no worker to be had: the first article wanted waits
            extractions = Extractions(failure=exc)
        fresh = iter(zip(extractions.results, extractions.times, strict=True))
        done: list[Extracted] = []
        for (article, record), known in zip(in_partition, found, strict=False):
            if known is not None:
                done.append(traced(article, record, known, None))
                continue
            extracted = next(fresh, None)
            if extracted is None:  # the extraction that failed: this article's
                failure = extractions.failure
                if isinstance(failure, PoisonError):
                    outcomes.keep(article.article_id, failure)
                if isinstance(failure, ArticleOverBudget):
                    warn_over_budget(article)
                break
            done.append(traced(article, record, *extracted))
        for article, _, result, _ in done:
            outcomes.keep(article.article_id, result)
        # what was found for articles behind the failed one stays found
        for (article, _), known in list(zip(in_partition, found, strict=False))[len(done) :]:
            if known is not None:
                outcomes.keep(article.article_id, known)
        return done, failure

    async def lane(
        extractor: BatchExtractor, partitions: list[list[tuple[RawArticle, Record]]]
    ) -> list[Extracted]:
        done: list[Extracted] = []
        failure: Exception | None = None
        for in_partition in partitions:
            extracted, failed = await in_order(extractor, in_partition)
            done.extend(extracted)
            failure = failure or failed
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
        extracted: list[Extracted] = [
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
