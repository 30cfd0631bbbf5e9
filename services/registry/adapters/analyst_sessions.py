"""The analysts' dashboard sessions (``analyst_sessions``, migration 0005): only each
token's SHA-256 is stored. A session is live while it has not expired and its analyst's
key is not revoked, so revoking an analyst ends their sessions at the next request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from services.common.values import utc
from services.registry.adapters.tables import AnalystRow, AnalystSessionRow


def _stored(moment: datetime) -> datetime:
    """Times are stored as UTC."""
    return utc(moment)


def add_session(engine: Engine, row: AnalystSessionRow, now: datetime) -> None:
    """Store a new session, and forget the expired ones while at it."""
    with Session(engine) as session:
        session.execute(
            delete(AnalystSessionRow).where(col(AnalystSessionRow.expires_at) <= _stored(now))
        )
        session.add(row)
        session.commit()


@dataclass(frozen=True)
class LiveSession:
    analyst_id: str
    analyst_name: str
    expires_at: datetime


def live_session(engine: Engine, digest: str, now: datetime) -> LiveSession | None:
    """The session of this token digest, when it has not expired and its analyst's key is
    not revoked."""
    with Session(engine) as session:
        found = session.exec(
            select(AnalystRow.id, AnalystRow.name, AnalystSessionRow.expires_at)
            .join(AnalystRow, col(AnalystRow.id) == col(AnalystSessionRow.analyst_id))
            .where(
                AnalystSessionRow.id == digest,
                col(AnalystSessionRow.expires_at) > _stored(now),
                col(AnalystRow.revoked_at).is_(None),
            )
        ).first()
        return LiveSession(found[0], found[1], utc(found[2])) if found is not None else None


def end_session(engine: Engine, digest: str) -> None:
    with Session(engine) as session:
        session.execute(delete(AnalystSessionRow).where(col(AnalystSessionRow.id) == digest))
        session.commit()
