"""Notify's record of the alliance changes it received (kept for callers of the first
skeleton; the service itself uses ``adapters.repository.NotifyRepository``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from services.common.contracts import AllianceChange
from services.notify.adapters.migrate import upgrade
from services.notify.adapters.repository import NotifyRepository
from services.notify.adapters.tables import ReceivedChange

__all__ = ["ReceivedChange", "ReceivedChanges"]


class ReceivedChanges:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.repository = NotifyRepository(engine)

    def create_schema(self) -> None:
        """Run the migrations (the schema is theirs)."""
        upgrade(self.engine)

    async def record(self, change: AllianceChange) -> bool:
        """Keep the change; False when it was already received."""
        return await self.repository.record_change(change, datetime.now(UTC), [])

    async def change_ids(self) -> list[str]:
        return await self.repository.received_change_ids()
