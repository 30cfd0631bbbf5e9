"""Remembers which articles ingest already handed to Kafka, to answer re-pushes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class IngestedArticle(SQLModel, table=True):
    __tablename__ = "ingested_articles"

    article_id: str = Field(primary_key=True, max_length=64)
    content_hash: str = Field(max_length=64)
    first_accepted_at: datetime
    last_accepted_at: datetime


class SeenArticles:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        SQLModel.metadata.create_all(self.engine, tables=[IngestedArticle.__table__])  # type: ignore[attr-defined]

    async def seen(self, article_id: str, content_hash: str) -> bool:
        """Whether this exact content was already accepted under this id."""

        def lookup() -> bool:
            with Session(self.engine) as session:
                row = session.get(IngestedArticle, article_id)
                return row is not None and row.content_hash == content_hash

        return await asyncio.to_thread(lookup)

    async def remember(self, article_id: str, content_hash: str) -> None:
        def upsert() -> None:
            now = datetime.now(UTC)
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
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()  # a concurrent push of the same article won the race

        await asyncio.to_thread(upsert)
