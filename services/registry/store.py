"""Kept for callers of the first skeleton: one extraction report per article, now backed
by the registry's repository (the alliances, institutions and sources it builds)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine

from services.common.contracts import ExtractedArticle
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.repository import RegistryRepository


class ExtractionReports:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.repository = RegistryRepository(engine)

    def create_schema(self) -> None:
        upgrade(self.engine)

    async def record(self, report: ExtractedArticle) -> bool:
        """Take the report in; returns False when this exact report was already kept."""
        outcome = await asyncio.to_thread(
            self.repository.apply_extraction, report, datetime.now(UTC)
        )
        return outcome.status == "applied"

    async def article_ids(self) -> list[str]:
        def load() -> list[str]:
            ids: list[str] = []
            cursor: str | None = None
            while True:
                rows, cursor = self.repository.list_articles(500, cursor)
                ids.extend(r.article_id for r in rows)
                if cursor is None:
                    return ids

        return await asyncio.to_thread(load)
