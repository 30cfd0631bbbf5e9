"""Analysts and their review actions as one transaction writes them: keys (kept as their
SHA-256), the alliance's review state, the moves of reports a merge or a split makes, and
the audit row of each action, next to the outbox entry of the change it published.
The decisions are ``domain/review.py``'s; the use cases are ``review_service.py``'s."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from services.common.contracts import ChangeKind
from services.common.values import canonical_json as dumps
from services.common.values import token_digest
from services.registry.adapters.alliance_store import (
    CommittedChange,
    alliance_document,
    append_outbox,
    write_alliance,
)
from services.registry.adapters.queries import AllianceView, alliance_views
from services.registry.adapters.repository import RegistryStore, Working
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    AnalystRow,
    ReportRow,
    ReviewActionRow,
)
from services.registry.domain.alliances import AllianceFacts, Report

KEY_PREFIX = "ak_"
ID_PREFIX = "an_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ReviewStore:
    """Review writes over the unit of work's session; ``store`` is the same transaction's
    ``RegistryStore``, for facts and institution resolution."""

    def __init__(self, session: Session, store: RegistryStore) -> None:
        self.session = session
        self.store = store

    # --- analysts ---------------------------------------------------------------------

    def add_analyst(self, name: str, now: datetime) -> tuple[AnalystRow, str]:
        key = new_key()
        row = AnalystRow(
            id=ID_PREFIX + secrets.token_hex(8),
            name=name,
            key_hash=token_digest(key),
            created_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row, key

    def analyst(self, analyst_id: str) -> AnalystRow | None:
        return self.session.get(AnalystRow, analyst_id)

    # --- alliances ----------------------------------------------------------------------

    def alliance(self, alliance_id: str) -> AllianceRow | None:
        return self.session.get(AllianceRow, alliance_id)

    def view(self, alliance_id: str) -> AllianceView:
        self.session.flush()
        return alliance_views(self.session, [alliance_id])[0]

    def load(self, work: Working, alliance_id: str) -> list[Report]:
        self.store.load_alliance(work, alliance_id)
        return work.reports[alliance_id]

    def rewrite(
        self, work: Working, row: AllianceRow, reports: Sequence[Report], now: datetime
    ) -> AllianceFacts:
        """Recompute the alliance from its reports and corrections, and store it."""
        facts = self.store.facts_of(work, row.id, reports)
        document = alliance_document(self.store.articles_of(facts.article_ids), facts, reports)
        institutions = self.store.institutions.by_ids([*facts.lead, *facts.members])
        write_alliance(self.session, row, facts, dumps(document), institutions, now)
        return facts

    def publish(
        self,
        row: AllianceRow,
        kind: ChangeKind,
        fields: Sequence[str],
        now: datetime,
        *,
        merged_into: str | None = None,
        bump: bool = True,
    ) -> CommittedChange:
        """Append the alliance's change to the outbox, as an analyst's (``by_review``).
        ``bump`` starts a new revision (a rewrite has already started one)."""
        if bump:
            row.revision += 1
            row.updated_at = now
            self.session.add(row)
            self.session.flush()
        change = CommittedChange(
            change_id=f"{row.id}-r{row.revision}",
            alliance_id=row.id,
            kind=kind,
            changed_fields=tuple(fields),
            by_review=True,
            merged_into=merged_into,
        )
        append_outbox(self.session, change, self.view(row.id).alliance, now)
        return change

    def move_reports(self, from_id: str, to_id: str, article_ids: Sequence[str] | None) -> None:
        """File ``from_id``'s reports (of ``article_ids`` only, if given) under ``to_id``."""
        stmt = update(ReportRow).where(col(ReportRow.alliance_id) == from_id)
        if article_ids is not None:
            stmt = stmt.where(col(ReportRow.article_id).in_(list(article_ids)))
        self.session.exec(stmt.values(alliance_id=to_id))  # type: ignore[call-overload]

    def detach(self, alliance_id: str) -> None:
        """An absorbed alliance keeps its row (its id redirects to the survivor) but no
        institution or place: no filter, institution page or match finds it any more."""
        for table in (AllianceInstitutionRow, AlliancePlaceRow):
            self.session.exec(  # type: ignore[call-overload]
                delete(table).where(col(table.alliance_id) == alliance_id)
            )

    def new_alliance(self, alliance_id: str, facts: AllianceFacts, now: datetime) -> AllianceRow:
        row = AllianceRow(
            id=alliance_id,
            type=facts.type.value,
            cross_province=facts.cross_province,
            confidence=facts.confidence,
            first_seen=facts.first_seen,
            last_seen=facts.last_seen,
            revision=0,
            source_count=0,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def taken(self, alliance_id: str) -> bool:
        return self.session.get(AllianceRow, alliance_id) is not None

    # --- the audit trail ----------------------------------------------------------------

    def record(
        self,
        alliance_id: str,
        analyst: Any,
        action: str,
        now: datetime,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        note: str | None,
    ) -> ReviewActionRow:
        row = ReviewActionRow(
            alliance_id=alliance_id,
            analyst_id=analyst.id,
            analyst_name=analyst.name,
            action=action,
            at=now,
            before=dumps(before) if before is not None else None,
            after=dumps(after) if after is not None else None,
            note=note,
        )
        self.session.add(row)
        self.session.flush()
        return row


def analyst_row_by_key(session: Session, key: str) -> AnalystRow | None:
    """The live analyst whose key this is (the key is looked up by its hash: the database
    never sees the key, and a revoked one finds nobody)."""
    if not key.startswith(KEY_PREFIX):
        return None
    return session.exec(
        select(AnalystRow).where(
            AnalystRow.key_hash == token_digest(key), col(AnalystRow.revoked_at).is_(None)
        )
    ).first()
