"""Accepting an article: claimed, durably in Kafka, then remembered, then answered; and a
batch, each of its articles as if it were pushed alone.

Of concurrent pushes of one article exactly one answers ``duplicate: false``: each first
takes the article's claim in the store (one wins); the others wait for the holder's
outcome and answer ``duplicate: true`` once it is accepted, or try themselves if its
publishing failed (the claim is released then), so nothing is lost and a crawler's retry
after a 503 works. A claim left by a process that died while publishing expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus

from pydantic import ValidationError

from services.common.contracts import ContentType, RawArticle, encode
from services.common.errors import RetryableError
from services.common.kafka.publisher import Publisher
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.ingest.adapters.store import SeenArticles
from services.ingest.domain import batches
from services.ingest.domain.articles import (
    AcceptedArticle,
    ArticleCreate,
    ArticleTooLarge,
    article_id_for,
    content_hash,
)
from services.ingest.domain.batches import BatchItem, BatchItemResult, BatchResult
from services.ingest.metrics import ARTICLES

log = logging.getLogger(__name__)


class ArticleBeingAccepted(RetryableError):
    """Another request holds the article's claim past the wait: answered 503, retry later."""


class BatchPartlyUnavailable(RetryableError):
    """Some articles of a batch could not be made durable now: answered 503 with every
    item's result, so the crawler pushes again only those marked unavailable."""

    def __init__(self, results: list[BatchItemResult]) -> None:
        super().__init__("some articles could not be stored durably; push them again later")
        self.results = results


@dataclass(frozen=True)
class ClaimTimes:
    #: How long a push waits for a concurrent push of the same article to finish.
    wait_seconds: float = 15.0
    #: A claim this old was left by a process that died while publishing.
    expiry_seconds: float = 60.0


class IngestService:
    def __init__(
        self,
        publisher: Publisher,
        seen: SeenArticles,
        topic: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
        claims: ClaimTimes = ClaimTimes(),
    ) -> None:
        self.publisher = publisher
        self.seen = seen
        self.topic = topic
        self.clock = clock
        self.max_article_chars = max_article_chars
        self.claims = claims

    def refuse_oversized(self, article: ArticleCreate) -> None:
        """``ArticleTooLarge`` for a body longer than extraction reads: accepted, it would
        only be dead-lettered downstream, and the crawler never told."""
        if len(article.body) > self.max_article_chars:
            raise ArticleTooLarge(
                f"the article body has {len(article.body)} characters, "
                f"over the limit of {self.max_article_chars}"
            )

    async def accept(self, article: ArticleCreate) -> AcceptedArticle:
        """Raises ``ArticleTooLarge`` for an article refused for good, and a
        ``RetryableError`` (``BrokerUnavailable``, ``ArticleBeingAccepted``) when the
        article could not be made durable now."""
        try:
            accepted = await self._accept(article)
        except ArticleTooLarge:
            ARTICLES.labels("too_large").inc()
            raise
        except RetryableError:
            ARTICLES.labels("unavailable").inc()
            raise
        ARTICLES.labels("duplicate" if accepted.duplicate else "accepted").inc()
        return accepted

    async def accept_batch(self, items: list[BatchItem], max_article_bytes: int) -> BatchResult:
        """Each item answered on its own, with the status it would get pushed alone.
        Raises ``BatchPartlyUnavailable`` once one could not be made durable now."""
        results: list[BatchItemResult] = []
        unavailable: RetryableError | None = None
        for index, item in enumerate(items):
            checked = self._check(index, item, max_article_bytes)
            if isinstance(checked, BatchItemResult):
                ARTICLES.labels(checked.status).inc()
                results.append(checked)
            elif unavailable is not None:
                # Once the broker failed, the rest are not tried: each would wait it out again.
                ARTICLES.labels("unavailable").inc()
                results.append(batches.unavailable(index, str(unavailable)))
            else:
                try:
                    accepted = await self.accept(checked)
                except RetryableError as exc:
                    unavailable = exc
                    results.append(batches.unavailable(index, str(exc)))
                else:
                    results.append(batches.accepted(index, accepted.article_id, accepted.duplicate))
        if unavailable is not None:
            raise BatchPartlyUnavailable(results)
        return BatchResult.of(results)

    def _check(
        self, index: int, item: BatchItem, max_bytes: int
    ) -> ArticleCreate | BatchItemResult:
        """The item as an article, or the answer of an item refused for good before it is
        tried."""
        if item.error is not None:
            return batches.rejected(index, item.code, item.error)
        if item.size > max_bytes:
            return batches.too_large(
                index, f"the article is {item.size} bytes as JSON, over the limit of {max_bytes}"
            )
        try:
            article = ArticleCreate.model_validate(item.value)
        except ValidationError as exc:
            return batches.rejected(index, HTTPStatus.UNPROCESSABLE_ENTITY.value, _brief(exc))
        try:
            self.refuse_oversized(article)
        except ArticleTooLarge as exc:
            return batches.too_large(index, str(exc))
        return article

    async def _accept(self, article: ArticleCreate) -> AcceptedArticle:
        self.refuse_oversized(article)
        article_id = article_id_for(article)
        digest = content_hash(article.title, article.body)
        raw = RawArticle(
            article_id=article_id,
            url=article.url,
            title=article.title,
            body=article.body,
            content_type=ContentType(article.content_type),
            published_at=article.published_date,
            source=article.source,
            received_at=self.clock(),
        )
        claimant = uuid.uuid4().hex
        if not await self._claim_unless_seen(article_id, digest, claimant):
            return AcceptedArticle(article_id=article_id, duplicate=True)
        try:
            await self.publisher.publish(self.topic, article_id.encode(), encode(raw))
        except BaseException:
            await self._release(article_id, claimant)
            raise
        try:
            await self.seen.remember(article_id, digest, claimant)
        except Exception:
            # Already durable in Kafka; a re-push after the claim expires is sent again
            # and deduplicated downstream by article_id, so the answer stays "accepted".
            log.exception("could not remember accepted article", extra={"article_id": article_id})
        log.info("accepted article", extra={"article_id": article_id})
        return AcceptedArticle(article_id=article_id, duplicate=False)

    async def _claim_unless_seen(self, article_id: str, digest: str, claimant: str) -> bool:
        """True once ``claimant`` holds the claim of a new article; False for a duplicate
        (accepted before, or by the concurrent push this one waited for)."""
        deadline = time.monotonic() + self.claims.wait_seconds
        pause = 0.01
        while not await self.seen.seen(article_id, digest):
            if await self.seen.claim(article_id, claimant, self.claims.expiry_seconds):
                # A holder that finished just before this claim was taken recorded the
                # article in the transaction that freed the claim: it is seen by now.
                if await self.seen.seen(article_id, digest):
                    await self._release(article_id, claimant)
                    return False
                return True
            if time.monotonic() >= deadline:
                raise ArticleBeingAccepted(
                    "a concurrent push of this article is still being stored; retry later"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        return False

    async def _release(self, article_id: str, claimant: str) -> None:
        try:
            await self.seen.release(article_id, claimant)
        except Exception:
            log.exception(
                "could not release the article's claim; it expires in %.0f s",
                self.claims.expiry_seconds,
                extra={"article_id": article_id},
            )


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}" for err in exc.errors()
    )
