"""Extract's use case: one raw article in, the message that reports its extraction out.

The extraction itself is the pure library in ``extraction/``; here an article becomes its
input, an over-long one is refused, and the result becomes an ``ExtractedArticle``. The
consumer (``entrypoints/consumer.py``) and the replay (``entrypoints/replay.py``) both
publish what this returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.common.contracts import ExtractedArticle, RawArticle
from services.common.errors import PoisonError
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.extract.extraction import ArticleInput, ExtractionResult


@dataclass
class Extractions:
    """Articles extracted in their order: the results of the first ones, each with when it
    started and finished (epoch nanoseconds, for its spans), and why the article after them
    failed (None when none did). The articles behind a failed one were not extracted: a
    partition waits behind its failed article."""

    results: list[ExtractionResult] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)
    failure: Exception | None = None


class ArticleExtractor(Protocol):
    """Extraction as the use case needs it (``adapters.isolation.ExtractionProcess`` in the
    service): raises ``PoisonError`` for an article that cannot be extracted (its
    ``reason`` says why) and ``RetryableError`` when the extractor is briefly unavailable."""

    async def extract(self, article: ArticleInput) -> ExtractionResult: ...


class BatchExtractor(ArticleExtractor, Protocol):
    """An extractor that also takes several articles in order (the worker process: in one
    exchange), the failure that stops them returned in place of raised."""

    async def extract_all(self, articles: Sequence[ArticleInput]) -> Extractions: ...


async def extract_each(
    extractor: ArticleExtractor, articles: Sequence[ArticleInput]
) -> Extractions:
    """``extract_all`` one article at a time, for extractors with no cheaper way."""
    done = Extractions()
    for article in articles:
        started = time.time_ns()
        try:
            result = await extractor.extract(article)
        except Exception as exc:
            done.failure = exc
            break
        done.results.append(result)
        done.times.append((started, time.time_ns()))
    return done


def input_of(
    article: RawArticle, max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS
) -> ArticleInput:
    """What the extractor reads of an article; an over-long body is poison."""
    if len(article.body) > max_article_chars:
        # Ingest refuses such bodies; one may still come from a replay of older history.
        raise PoisonError(
            f"article body has {len(article.body)} characters, over {max_article_chars}"
        )
    return ArticleInput(
        body=article.body,
        title=article.title,
        content_type=article.content_type.value,
        published=article.published_at,
    )


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
