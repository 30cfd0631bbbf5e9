"""One article at a time through ingest's store, which takes them a batch at a time: for
tests that follow a single article's claim and record."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from services.ingest.adapters.store import SeenArticles
from services.ingest.adapters.tables import IngestedArticle


async def claim(seen: SeenArticles, article_id: str, claimant: str, expiry: float = 60) -> bool:
    """Whether ``claimant`` now holds the article's claim (content no record has)."""
    claims = await seen.claim_unseen({article_id: "not-recorded"}, claimant, expiry)
    return article_id in claims.taken


async def record(
    seen: SeenArticles, article_id: str, content_hash: str, claimant: str = ""
) -> None:
    """Record the article as accepted, ending ``claimant``'s claims."""
    await seen.settle({article_id: content_hash}, claimant)


async def release(seen: SeenArticles, claimant: str) -> None:
    """End ``claimant``'s claims without recording anything (its publishing failed)."""
    await seen.settle({}, claimant)


def recorded(seen: SeenArticles, article_id: str, content_hash: str) -> bool:
    """Whether this very content is recorded as accepted under ``article_id``."""
    with seen.engine.connect() as connection:
        kept = connection.execute(
            select(col(IngestedArticle.content_hash)).where(
                col(IngestedArticle.article_id) == article_id
            )
        ).scalar()
    return kept == content_hash
