"""Accepting an article: durably in Kafka first, then remembered, then answered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from services.common.contracts import ContentType, RawArticle, encode
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


class IngestService:
    def __init__(
        self,
        publisher: Publisher,
        seen: SeenArticles,
        topic: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
    ) -> None:
        self.publisher = publisher
        self.seen = seen
        self.topic = topic
        self.clock = clock
        self.max_article_chars = max_article_chars

    def refuse_oversized(self, article: ArticleCreate) -> None:
        """``ArticleTooLarge`` for a body longer than extraction reads: accepted, it would
        only be dead-lettered downstream, and the crawler never told."""
        if len(article.body) > self.max_article_chars:
            raise ArticleTooLarge(
                f"the article body has {len(article.body)} characters, "
                f"over the limit of {self.max_article_chars}"
            )

    async def accept(self, article: ArticleCreate) -> AcceptedArticle:
        """Raises ``ArticleTooLarge`` for an article refused for good, and
        ``BrokerUnavailable`` when the article could not be made durable."""
        self.refuse_oversized(article)
        article_id = article_id_for(article)
        digest = content_hash(article.title, article.body)
        if await self.seen.seen(article_id, digest):
            return AcceptedArticle(article_id=article_id, duplicate=True)
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
        await self.publisher.publish(self.topic, article_id.encode(), encode(raw))
        try:
            await self.seen.remember(article_id, digest)
        except Exception:
            # Already durable in Kafka; a re-push would be sent again and deduplicated
            # downstream by article_id, so the answer stays "accepted".
            log.exception("could not remember accepted article", extra={"article_id": article_id})
        log.info("accepted article", extra={"article_id": article_id})
        return AcceptedArticle(article_id=article_id, duplicate=False)
