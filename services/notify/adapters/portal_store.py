"""The portal's own rows: its sessions (hashed), and what the delivery log says about an
endpoint lately. Every query about a bureau's data filters on the bureau's id."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete
from sqlmodel import Field, Session, SQLModel, col, select

from services.notify.adapters.store import Store
from services.notify.adapters.tables import ApiKeyRow, AttemptRow, DeliveryRow, UTCDateTime

T = TypeVar("T")


class PortalSessionRow(SQLModel, table=True):
    __tablename__ = "portal_sessions"

    #: SHA-256 (hex) of the session token in the cookie; never the token itself.
    id: str = Field(primary_key=True, max_length=64)
    bureau_id: str = Field(foreign_key="bureaus.id", index=True, max_length=40)
    #: The API key signed in with: revoking it ends its sessions too.
    key_id: str = Field(foreign_key="api_keys.id", max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class PortalStore(Store):
    async def add_session(self, row: PortalSessionRow, now: datetime) -> None:
        """Store a new session, and forget the expired ones while at it."""

        def work(session: Session) -> None:
            session.execute(delete(PortalSessionRow).where(col(PortalSessionRow.expires_at) <= now))
            session.add(row)
            session.commit()

        await self._run(work)

    async def live_session(self, digest: str, now: datetime) -> PortalSessionRow | None:
        """The session of this token digest, when it has not expired and its key is live."""

        def work(session: Session) -> PortalSessionRow | None:
            found = session.exec(
                select(PortalSessionRow)
                .join(ApiKeyRow, col(ApiKeyRow.id) == col(PortalSessionRow.key_id))
                .where(
                    PortalSessionRow.id == digest,
                    col(PortalSessionRow.expires_at) > now,
                    col(ApiKeyRow.revoked_at).is_(None),
                )
            ).first()
            return found

        return await self._run(work)

    async def end_session(self, digest: str) -> None:
        def work(session: Session) -> None:
            session.execute(delete(PortalSessionRow).where(col(PortalSessionRow.id) == digest))
            session.commit()

        await self._run(work)

    async def last_attempt(
        self, bureau_id: str, subscription_id: str
    ) -> tuple[AttemptRow, str] | None:
        """The latest attempt at the subscription's endpoint, with its delivery's type."""

        def work(session: Session) -> tuple[AttemptRow, str] | None:
            found = session.exec(
                select(AttemptRow, DeliveryRow.type)
                .join(DeliveryRow, col(DeliveryRow.id) == col(AttemptRow.delivery_id))
                .where(
                    DeliveryRow.bureau_id == bureau_id,
                    AttemptRow.subscription_id == subscription_id,
                )
                .order_by(col(AttemptRow.started_at).desc(), col(AttemptRow.id).desc())
                .limit(1)
            ).first()
            return (found[0], found[1]) if found is not None else None

        return await self._run(work)
