"""One alliance as stored: its row with the JSON document (sources, alternatives), its
institution and place rows for filtering, and the outbox entry for each change, all written
in the caller's transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from services.common import tracing
from services.common.contracts import AllianceChange, ChangeKind
from services.common.places import keys_of, province_key
from services.common.values import canonical_json as dumps
from services.registry.adapters.queries import alliance_views
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    ArticleRow,
    InstitutionRow,
    OutboxRow,
)
from services.registry.domain.alliances import AllianceFacts, Report, parse_event_date


@dataclass(frozen=True)
class CommittedChange:
    change_id: str
    alliance_id: str
    kind: ChangeKind
    changed_fields: tuple[str, ...]
    #: an analyst's action made the change (``AllianceChange.by_review``)
    by_review: bool = False
    #: for a retraction by a merge, the survivor
    merged_into: str | None = None


def alliance_document(
    session: Session, facts: AllianceFacts, reports: Sequence[Report]
) -> dict[str, Any]:
    articles = {
        a.article_id: a
        for a in session.exec(
            select(ArticleRow).where(col(ArticleRow.article_id).in_(facts.article_ids))
        ).all()
    }
    evidence: dict[str, list[str]] = defaultdict(list)
    for r in sorted(reports, key=lambda r: (r.article_id, r.event_index)):
        if r.evidence and r.evidence not in evidence[r.article_id]:
            evidence[r.article_id].append(r.evidence)
    sources = []
    for article_id in facts.article_ids:
        article = articles.get(article_id)
        sources.append(
            {
                "article_id": article_id,
                "url": article.url if article else None,
                "title": article.title if article else "",
                "published_at": (
                    article.published_at.isoformat() if article and article.published_at else None
                ),
                "evidence": " … ".join(evidence[article_id]),
            }
        )
    alternatives = {
        name: [
            {"value": a.value, "support": a.support, "article_ids": list(a.article_ids)}
            for a in alts
        ]
        for name, alts in facts.alternatives.items()
    }
    return {
        "sources": sources,
        "alternatives": alternatives,
        "provinces": list(facts.provinces),
    }


def write_alliance(
    session: Session,
    row: AllianceRow,
    facts: AllianceFacts,
    document: Mapping[str, Any],
    now: datetime,
) -> None:
    span = parse_event_date(facts.date)
    row.type = facts.type.value
    row.specialty = facts.specialty
    row.date = facts.date
    row.date_start, row.date_end = span if span else (None, None)
    row.cross_province = facts.cross_province
    row.confidence = facts.confidence
    row.first_seen = facts.first_seen
    row.last_seen = facts.last_seen
    row.revision += 1
    row.source_count = len(facts.article_ids)
    row.document = dumps(document)
    row.updated_at = now
    roles = [("lead", i) for i in facts.lead] + [("member", i) for i in facts.members]
    institutions = {
        r.id: r
        for r in session.exec(
            select(InstitutionRow).where(col(InstitutionRow.id).in_([i for _, i in roles]))
        ).all()
    }
    names = [facts.specialty or ""]
    places: set[tuple[str, str]] = {("province", province_key(p)) for p in facts.provinces}
    for _, ident in roles:
        inst = institutions[ident]
        names.append(inst.name)
        names.extend(json.loads(inst.aliases))
        places |= {(str(k), v) for k, v in keys_of(inst.province, inst.city, inst.county)}
    row.search_text = "\n".join(n for n in names if n)
    session.add(row)
    session.flush()
    session.exec(  # type: ignore[call-overload]
        delete(AllianceInstitutionRow).where(col(AllianceInstitutionRow.alliance_id) == row.id)
    )
    session.exec(  # type: ignore[call-overload]
        delete(AlliancePlaceRow).where(col(AlliancePlaceRow.alliance_id) == row.id)
    )
    for position, (role, ident) in enumerate(roles):
        session.add(
            AllianceInstitutionRow(
                alliance_id=row.id, institution_id=ident, role=role, position=position
            )
        )
    for kind, value in sorted(places):
        session.add(AlliancePlaceRow(alliance_id=row.id, kind=kind, value=value[:60]))


def append_outbox(session: Session, change: CommittedChange, now: datetime) -> None:
    view = alliance_views(session, [change.alliance_id])[0]
    message = AllianceChange(
        change_id=change.change_id,
        alliance_id=change.alliance_id,
        kind=change.kind,
        changed_fields=change.changed_fields,
        alliance=view.alliance,
        occurred_at=now,
        by_review=change.by_review,
        merged_into=change.merged_into,
    )
    session.add(
        OutboxRow(
            change_id=change.change_id,
            alliance_id=change.alliance_id,
            payload=message.model_dump_json(),
            created_at=now,
            trace_context=tracing.current_carrier(),
        )
    )
