"""Accepting an article: claimed, durably in Kafka, then remembered, then answered.

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

from services.common.contracts import ContentType, RawArticle, encode
from services.common.errors import RetryableError
from services.common.kafka.publisher import Publisher
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.ingest.domain import (
    AcceptedArticle,
    ArticleCreate,
    ArticleTooLarge,
    article_id_for,
    content_hash,
)
from services.ingest.store import SeenArticles

log = logging.getLogger(__name__)


class ArticleBeingAccepted(RetryableError):
    """Another request holds the article's claim past the wait: answered 503, retry later."""


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
