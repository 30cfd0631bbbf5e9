"""Accepting an article: claimed, durably in Kafka, then remembered, then answered; and a
batch, each of its articles as if it were pushed alone, but claimed, published and
remembered together (two transactions and one publishing for the batch, not per article).

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
from services.common.kafka.publisher import (
    BrokerUnavailable,
    Outgoing,
    PartlyPublished,
    Publisher,
)
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


@dataclass(frozen=True)
class _Incoming:
    """An article pushed, as ingest claims, publishes and remembers it."""

    article_id: str
    content_hash: str
    #: The RawArticle as sent to Kafka.
    message: bytes


#: What became of one article: accepted (new or a duplicate), or not durable now.
Outcome = AcceptedArticle | RetryableError


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
            self.refuse_oversized(article)
            [outcome] = await self._accept_all([article])
            if isinstance(outcome, RetryableError):
                raise outcome
        except ArticleTooLarge:
            ARTICLES.labels("too_large").inc()
            raise
        except RetryableError:
            ARTICLES.labels("unavailable").inc()
            raise
        ARTICLES.labels("duplicate" if outcome.duplicate else "accepted").inc()
        return outcome

    async def accept_batch(self, items: list[BatchItem], max_article_bytes: int) -> BatchResult:
        """Each item answered on its own, with the status it would get pushed alone.
        Raises ``BatchPartlyUnavailable`` once one could not be made durable now."""
        checked = [self._check(index, item, max_article_bytes) for index, item in enumerate(items)]
        tried = [(index, c) for index, c in enumerate(checked) if isinstance(c, ArticleCreate)]
        outcomes = await self._accept_all([article for _, article in tried])
        results = [c for c in checked if isinstance(c, BatchItemResult)]
        for (index, _), outcome in zip(tried, outcomes, strict=True):
            if isinstance(outcome, RetryableError):
                results.append(batches.unavailable(index, str(outcome)))
            else:
                results.append(batches.accepted(index, outcome.article_id, outcome.duplicate))
        results.sort(key=lambda result: result.index)
        for result in results:
            ARTICLES.labels(result.status).inc()
        if any(result.status == "unavailable" for result in results):
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

    async def _accept_all(self, articles: list[ArticleCreate]) -> list[Outcome]:
        """Each article's outcome as if they were pushed alone one after another, at the
        cost of a few transactions and one publishing for all.

        A copy of the article just before it under the same id (same content) follows that
        one: a duplicate once it is accepted. New content under an id already in the batch
        waits for a later round, so it is claimed, sent and remembered after the earlier
        content, as pushed alone it would be; a batch almost always has one round."""
        incoming = [self._incoming(article) for article in articles]
        outcomes: dict[int, Outcome] = {}
        copies: dict[int, int] = {}
        rounds: list[dict[str, int]] = []
        latest: dict[str, int] = {}
        round_of: dict[int, int] = {}
        for index, article in enumerate(incoming):
            before = latest.get(article.article_id)
            if before is not None and incoming[before].content_hash == article.content_hash:
                copies[index] = before
                continue
            latest[article.article_id] = index
            round_of[index] = 0 if before is None else round_of[before] + 1
            if round_of[index] == len(rounds):
                rounds.append({})
            rounds[round_of[index]][article.article_id] = index
        unavailable: RetryableError | None = None
        for in_round in rounds:
            if unavailable is not None:
                # The broker failed: the rest are not tried, each would wait it out again.
                outcomes.update((index, unavailable) for index in in_round.values())
                continue
            found = await self._accept_distinct([incoming[index] for index in in_round.values()])
            for article_id, outcome in found.items():
                outcomes[in_round[article_id]] = outcome
                if isinstance(outcome, RetryableError):
                    unavailable = outcome
        for index, before in copies.items():
            outcome = outcomes[before]
            outcomes[index] = (
                AcceptedArticle(article_id=outcome.article_id, duplicate=True)
                if isinstance(outcome, AcceptedArticle)
                else outcome
            )
        return [outcomes[index] for index in range(len(incoming))]

    def _incoming(self, article: ArticleCreate) -> _Incoming:
        article_id = article_id_for(article)
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
        return _Incoming(article_id, content_hash(article.title, article.body), encode(raw))

    async def _accept_distinct(self, articles: list[_Incoming]) -> dict[str, Outcome]:
        """The outcome of each of ``articles`` (of distinct ids) by id: all claimed in one
        transaction, the claimed published together, then remembered or released in one
        more; those held by concurrent pushes are claimed again, after a pause, until their
        holders are done (duplicates then, or free to try if publishing failed)."""
        outcomes: dict[str, Outcome] = {}
        waiting = {article.article_id: article for article in articles}
        claimant = uuid.uuid4().hex
        deadline = time.monotonic() + self.claims.wait_seconds
        pause = 0.01
        while True:
            claims = await self.seen.claim_unseen(
                {a.article_id: a.content_hash for a in waiting.values()},
                claimant,
                self.claims.expiry_seconds,
            )
            outcomes.update(
                (article_id, AcceptedArticle(article_id=article_id, duplicate=True))
                for article_id in claims.seen
            )
            published = await self._publish([waiting[a] for a in claims.taken], claimant)
            outcomes.update(published)
            waiting = {article_id: waiting[article_id] for article_id in claims.held}
            failure = next((o for o in published.values() if isinstance(o, RetryableError)), None)
            if not waiting:
                return outcomes
            if failure is not None:
                # The broker failed: those still held elsewhere are not waited for.
                return outcomes | dict.fromkeys(waiting, failure)
            if time.monotonic() >= deadline:
                busy = ArticleBeingAccepted(
                    "a concurrent push of this article is still being stored; retry later"
                )
                return outcomes | dict.fromkeys(waiting, busy)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)

    async def _publish(self, claimed: list[_Incoming], claimant: str) -> dict[str, Outcome]:
        """Publish the articles ``claimant`` holds the claims of, together; remember those
        Kafka acknowledged and release the claims of the others, in one transaction."""
        if not claimed:
            return {}
        messages = [Outgoing(self.topic, a.article_id.encode(), a.message) for a in claimed]
        failure: BrokerUnavailable | None = None
        try:
            await self.publisher.publish_many(messages)
            acknowledged = [True] * len(claimed)
        except BrokerUnavailable as exc:
            failure = exc
            # Each article is its own message, independent of the others: every one
            # acknowledged is kept, not only those before the first that was not.
            acknowledged = (
                list(exc.acknowledged)
                if isinstance(exc, PartlyPublished)
                else [False] * len(claimed)
            )
        except BaseException:
            await self._settle({}, claimant)
            raise
        accepted = [a for a, ok in zip(claimed, acknowledged, strict=True) if ok]
        await self._settle({a.article_id: a.content_hash for a in accepted}, claimant)
        outcomes: dict[str, Outcome] = {}
        for article in accepted:
            log.info("accepted article", extra={"article_id": article.article_id})
            outcomes[article.article_id] = AcceptedArticle(
                article_id=article.article_id, duplicate=False
            )
        for article, ok in zip(claimed, acknowledged, strict=True):
            if not ok:
                assert failure is not None
                outcomes[article.article_id] = failure
        return outcomes

    async def _settle(self, accepted: dict[str, str], claimant: str) -> None:
        try:
            await self.seen.settle(accepted, claimant)
        except Exception:
            # Those accepted are durable in Kafka already; a re-push after the claim
            # expires is sent again and deduplicated downstream by article_id, so their
            # answer stays "accepted". The claims of the others expire.
            log.exception(
                "could not remember %d accepted articles nor release the claims; "
                "they expire in %.0f s",
                len(accepted),
                self.claims.expiry_seconds,
                extra={"article_ids": sorted(accepted)},
            )


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}" for err in exc.errors()
    )
