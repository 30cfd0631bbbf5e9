"""Ingest's two tables, as the store reads and writes them. The schema itself is made by the
migrations (services/ingest/migrations), which must keep to these definitions;
tests/integration/test_ingest_migrations.py compares the two."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class IngestedArticle(SQLModel, table=True):
    __tablename__ = "ingested_articles"

    article_id: str = Field(primary_key=True, max_length=64)
    content_hash: str = Field(max_length=64)
    first_accepted_at: datetime
    last_accepted_at: datetime


class ArticleClaim(SQLModel, table=True):
    """An article one request is publishing. Its primary key makes exactly one of
    concurrent inserts win; it is deleted once the article is remembered, or when
    publishing failed. One older than the expiry was left by a process that died while
    publishing, and is taken over."""

    __tablename__ = "article_claims"

    article_id: str = Field(primary_key=True, max_length=64)
    claimant: str = Field(max_length=64)
    #: Unix time, in seconds: a number compares the same way in SQLite and PostgreSQL.
    claimed_at: float
