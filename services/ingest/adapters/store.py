"""Remembers which articles ingest handed to Kafka, to answer re-pushes, and which one
request is handing over right now: of concurrent pushes of an article, exactly one holds
its claim and publishes; the others wait for its outcome.

A batch of articles is claimed in one transaction (``claim_unseen``) and, once published,
settled in one more (``settle``): a batch costs two transactions, not four per article."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Delete, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from services.ingest.adapters.tables import ArticleClaim, IngestedArticle


@dataclass(frozen=True)
class Claims:
    """What one claiming of many articles found, each article by its id."""

    #: Free (or left by a dead holder), now held by the claimant: publish them.
    taken: list[str] = field(default_factory=list)
    #: Accepted before with the same content: duplicates.
    seen: list[str] = field(default_factory=list)
    #: Held by a concurrent push still publishing them: wait for its outcome.
    held: list[str] = field(default_factory=list)


class SeenArticles:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    async def claim_unseen(
        self, articles: Mapping[str, str], claimant: str, expiry_seconds: float
    ) -> Claims:
        """Of ``articles`` (content hash by article id), in one transaction: those seen
        before, those ``claimant`` now holds the claim of (free, or held for longer than
        ``expiry_seconds``), and those another push holds."""

        def take() -> Claims:
            with self.engine.begin() as connection:
                seen = _seen_among(connection, articles)
                unseen = {a: h for a, h in articles.items() if a not in seen}
                taken = _take_claims(connection, unseen, claimant, self.clock(), expiry_seconds)
                # A holder that finished just before its claim was taken recorded the
                # article in the transaction that freed the claim: it is seen by now.
                late = _seen_among(connection, {a: unseen[a] for a in taken})
                if late:
                    connection.execute(_claims_of(claimant, late))
            return Claims(
                taken=[a for a in articles if a in taken and a not in late],
                seen=[a for a in articles if a in seen or a in late],
                held=[a for a in unseen if a not in taken],
            )

        return await asyncio.to_thread(take)

    async def settle(self, accepted: Mapping[str, str], claimant: str) -> None:
        """Record ``accepted`` (content hash by article id) and end every claim
        ``claimant`` holds, in one transaction: a waiting push then finds each article
        accepted, or free to try again (publishing failed), never free and unrecorded."""

        def record() -> None:
            with self.engine.begin() as connection:
                _record(connection, accepted)
                connection.execute(
                    delete(ArticleClaim).where(col(ArticleClaim.claimant) == claimant)
                )

        await asyncio.to_thread(record)


def _seen_among(connection: Connection, articles: Mapping[str, str]) -> set[str]:
    """The ids of ``articles`` accepted before with the same content hash."""
    if not articles:
        return set()
    rows = connection.execute(
        select(col(IngestedArticle.article_id), col(IngestedArticle.content_hash)).where(
            col(IngestedArticle.article_id).in_(list(articles))
        )
    )
    return {article_id for article_id, digest in rows if articles[article_id] == digest}


def _take_claims(
    connection: Connection,
    articles: Collection[str],
    claimant: str,
    now: float,
    expiry_seconds: float,
) -> set[str]:
    """The ids of ``articles`` whose claim ``claimant`` took: the free ones, inserted, and
    those held for longer than the expiry, taken over. Of concurrent claimants of one
    article the primary key lets exactly one insert, and the UPDATE's condition, checked
    again after waiting for a concurrent one, lets exactly one take over."""
    if not articles:
        return set()
    # In the order of the key, so two batches claiming the same articles on PostgreSQL
    # wait for each other instead of deadlocking. DO NOTHING, not DO UPDATE: that would
    # lock the claims of the holders still publishing, and their settling would wait.
    rows = [{"article_id": a, "claimant": claimant, "claimed_at": now} for a in sorted(articles)]
    free = (
        _insert(connection, ArticleClaim)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[col(ArticleClaim.article_id)])
        .returning(col(ArticleClaim.article_id))
    )
    taken = set(connection.execute(free).scalars())
    held = [a for a in articles if a not in taken]
    if not held:
        return taken
    expired = select(col(ArticleClaim.article_id)).where(
        col(ArticleClaim.article_id).in_(held),
        col(ArticleClaim.claimed_at) < now - expiry_seconds,
    )
    # One at a time, in the order of the key, for the same reason as above; rare, as
    # claims only expire when a process died while publishing.
    for article_id in sorted(connection.execute(expired).scalars()):
        take_over = (
            update(ArticleClaim)
            .where(col(ArticleClaim.article_id) == article_id)
            .where(col(ArticleClaim.claimed_at) < now - expiry_seconds)
            .values(claimant=claimant, claimed_at=now)
        )
        if connection.execute(take_over).rowcount == 1:
            taken.add(article_id)
    return taken


def _record(connection: Connection, accepted: Mapping[str, str]) -> None:
    """Insert the accepted articles, or update those accepted before (new content at the
    same URL, or an article re-sent after its claim expired)."""
    if not accepted:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "article_id": a,
            "content_hash": accepted[a],
            "first_accepted_at": now,
            "last_accepted_at": now,
        }
        for a in sorted(accepted)
    ]
    insert = _insert(connection, IngestedArticle).values(rows)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[col(IngestedArticle.article_id)],
            set_={
                "content_hash": insert.excluded.content_hash,
                "last_accepted_at": insert.excluded.last_accepted_at,
            },
        )
    )


def _insert(
    connection: Connection, table: type[ArticleClaim] | type[IngestedArticle]
) -> sqlite.Insert | postgresql.Insert:
    """An INSERT with the ON CONFLICT clause both SQLite and PostgreSQL speak."""
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def _claims_of(claimant: str, articles: Collection[str]) -> Delete:
    return (
        delete(ArticleClaim)
        .where(col(ArticleClaim.article_id).in_(list(articles)))
        .where(col(ArticleClaim.claimant) == claimant)
    )
