"""Remembers which articles ingest handed to Kafka, to answer re-pushes, and which one
request is handing over right now: of concurrent pushes of an article, exactly one holds
its claim and publishes; the others wait for its outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Delete, Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.ingest.adapters.tables import ArticleClaim, IngestedArticle


class SeenArticles:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    async def seen(self, article_id: str, content_hash: str) -> bool:
        """Whether this exact content was already accepted under this id."""

        def lookup() -> bool:
            with Session(self.engine) as session:
                row = session.get(IngestedArticle, article_id)
                return row is not None and row.content_hash == content_hash

        return await asyncio.to_thread(lookup)

    async def claim(self, article_id: str, claimant: str, expiry_seconds: float) -> bool:
        """Whether ``claimant`` now holds the article's claim: it was free, or its holder's
        claim is older than ``expiry_seconds``."""

        def take() -> bool:
            now = self.clock()
            try:
                with Session(self.engine) as session:
                    session.add(
                        ArticleClaim(article_id=article_id, claimant=claimant, claimed_at=now)
                    )
                    session.commit()
                return True
            except IntegrityError:
                pass  # held: taken over below only if its holder is long gone
            stale = (
                update(ArticleClaim)
                .where(col(ArticleClaim.article_id) == article_id)
                .where(col(ArticleClaim.claimed_at) < now - expiry_seconds)
                .values(claimant=claimant, claimed_at=now)
            )
            with self.engine.begin() as connection:
                # One UPDATE: of two requests taking over the same claim, one matches.
                return connection.execute(stale).rowcount == 1

        return await asyncio.to_thread(take)

    async def release(self, article_id: str, claimant: str) -> None:
        """Give the claim back (publishing failed): the next push of the article may try."""

        def drop() -> None:
            with self.engine.begin() as connection:
                connection.execute(_claim_of(article_id, claimant))

        await asyncio.to_thread(drop)

    async def remember(
        self, article_id: str, content_hash: str, claimant: str | None = None
    ) -> None:
        """Record the article as accepted and, in the same transaction, end ``claimant``'s
        claim: a waiting push then finds it accepted, never free and unrecorded."""

        def record() -> None:
            now = datetime.now(UTC)
            for attempt in (1, 2):
                with Session(self.engine) as session:
                    row = session.get(IngestedArticle, article_id)
                    if row is None:
                        row = IngestedArticle(
                            article_id=article_id,
                            content_hash=content_hash,
                            first_accepted_at=now,
                            last_accepted_at=now,
                        )
                    else:
                        row.content_hash = content_hash
                        row.last_accepted_at = now
                    session.add(row)
                    if claimant is not None:
                        session.execute(_claim_of(article_id, claimant))
                    try:
                        session.commit()
                        return
                    except IntegrityError:
                        # Inserted meanwhile by a request that took over an expired claim:
                        # the second attempt updates that row.
                        session.rollback()
                        if attempt == 2:
                            raise

        await asyncio.to_thread(record)


def _claim_of(article_id: str, claimant: str) -> Delete:
    return (
        delete(ArticleClaim)
        .where(col(ArticleClaim.article_id) == article_id)
        .where(col(ArticleClaim.claimant) == claimant)
    )
