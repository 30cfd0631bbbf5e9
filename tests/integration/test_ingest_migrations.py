"""Ingest's migrations on SQLite and PostgreSQL: a new database gets exactly the schema the
store's tables describe, and a deployment whose tables ingest made itself before it had
migrations (SQLModel's create_all, with or without the claims table) upgrades in place,
keeping what it remembered."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

from services.common.db import make_engine
from services.ingest.adapters.migrate import current_revision, downgrade, upgrade
from services.ingest.adapters.store import SeenArticles
from services.ingest.adapters.tables import ArticleClaim, IngestedArticle
from tests.integration.ingest_articles import claim, record, recorded

TABLES = [IngestedArticle.__table__, ArticleClaim.__table__]  # type: ignore[attr-defined]
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def schema(engine: sa.Engine) -> dict[str, object]:
    """Each ingest table's columns (name, type, nullable) and primary key, as the database
    reports them."""
    inspector = sa.inspect(engine)
    found: dict[str, object] = {}
    for table in ("ingested_articles", "article_claims"):
        columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]
        key = inspector.get_pk_constraint(table)["constrained_columns"]
        found[table] = (columns, key, inspector.get_indexes(table))
    return found


def test_a_new_database_gets_the_schema_the_old_start_up_made(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        SQLModel.metadata.create_all(engine, tables=TABLES)
        made_the_old_way = schema(engine)
        SQLModel.metadata.drop_all(engine, tables=TABLES)
        upgrade(engine)
        assert schema(engine) == made_the_old_way
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()


async def test_a_deployment_made_without_migrations_upgrades_in_place(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        SQLModel.metadata.create_all(engine, tables=TABLES)
        seen = SeenArticles(engine)
        await record(seen, "u1", "h1")
        assert await claim(seen, "u2", "holder")
        upgrade(engine)
        upgrade(engine)  # every start-up runs it: the second finds nothing to do
        assert current_revision(engine) == "0001"
        assert recorded(seen, "u1", "h1"), "what it recorded is kept"
        assert not await claim(seen, "u2", "other"), "a live claim is kept too"
    finally:
        engine.dispose()


async def test_a_deployment_from_before_claims_gets_the_claims_table(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        SQLModel.metadata.create_all(engine, tables=[IngestedArticle.__table__])  # type: ignore[attr-defined]
        with engine.begin() as connection:  # as that version recorded an article
            connection.execute(
                sa.insert(IngestedArticle.__table__),  # type: ignore[arg-type]
                {
                    "article_id": "u1",
                    "content_hash": "h1",
                    "first_accepted_at": NOW,
                    "last_accepted_at": NOW,
                },
            )
        upgrade(engine)
        seen = SeenArticles(engine)
        assert recorded(seen, "u1", "h1")
        assert await claim(seen, "u1", "holder")
    finally:
        engine.dispose()


def test_the_schema_goes_away_and_comes_back(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        downgrade(engine)
        assert current_revision(engine) is None
        assert not {"ingested_articles", "article_claims"} & set(
            sa.inspect(engine).get_table_names()
        )
        upgrade(engine)
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()
