"""One alliance as stored: its row with the JSON document (sources, alternatives), its
institution and place rows for filtering, and the outbox entry for each change, all written
in the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session, col

from services.common import tracing
from services.common.contracts import (
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
    EventType,
)
from services.common.places import keys_of, province_key
from services.common.values import utc
from services.registry.adapters.rows import ArticleRecord, public_institution, row_values
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    OutboxRow,
)
from services.registry.domain.alliances import AllianceFacts, Report, parse_event_date
from services.registry.domain.institutions import InstitutionRecord

# Built once: an alliance's rows are written for nearly every report.
_INSERT_ALLIANCE = insert(AllianceRow)
_INSERT_INSTITUTION_LINKS = insert(AllianceInstitutionRow)
_INSERT_PLACES = insert(AlliancePlaceRow)
_INSERT_OUTBOX = insert(OutboxRow)


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
    articles: Mapping[str, ArticleRecord], facts: AllianceFacts, reports: Sequence[Report]
) -> dict[str, Any]:
    """Sources and alternatives as stored in the alliance's row (``articles``: those of
    ``facts.article_ids`` that are known)."""
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
    document: str,
    institutions: Mapping[str, InstitutionRecord],
    now: datetime,
) -> None:
    """Store the alliance's row (``document``: its JSON) and its institution and place
    rows; ``institutions`` holds at least its lead's and members' records, as stored."""
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
    row.document = document
    row.updated_at = now
    roles = [("lead", i) for i in facts.lead] + [("member", i) for i in facts.members]
    names = [facts.specialty or ""]
    places: set[tuple[str, str]] = {("province", province_key(p)) for p in facts.provinces}
    for _, ident in roles:
        inst = institutions[ident]
        names.append(inst.name)
        names.extend(inst.aliases)
        place = inst.place
        places |= {(str(k), v) for k, v in keys_of(place.province, place.city, place.county)}
    row.search_text = "\n".join(n for n in names if n)
    connection = session.connection()
    if row in session:
        # Its institution and place rows are replaced; the DELETEs flush the row first.
        for table in (AllianceInstitutionRow, AlliancePlaceRow):
            session.exec(  # type: ignore[call-overload]
                delete(table).where(col(table.alliance_id) == row.id)
            )
    else:
        # A new alliance (no institution or place rows yet) is one plain INSERT: the
        # session does not track it; read again later in the transaction, it is loaded.
        connection.execute(_INSERT_ALLIANCE, row_values(row))
    # Plain INSERTs, several rows each: nothing reads these rows back as objects.
    if roles:
        connection.execute(
            _INSERT_INSTITUTION_LINKS,
            [
                {"alliance_id": row.id, "institution_id": ident, "role": role, "position": n}
                for n, (role, ident) in enumerate(roles)
            ],
        )
    if places:
        connection.execute(
            _INSERT_PLACES,
            [
                {"alliance_id": row.id, "kind": kind, "value": value[:60]}
                for kind, value in sorted(places)
            ],
        )


def alliance_of(
    row: AllianceRow,
    facts: AllianceFacts,
    document: Mapping[str, Any],
    institutions: Mapping[str, InstitutionRecord],
) -> Alliance:
    """The alliance as ``queries.alliance_views`` would read back what ``write_alliance``
    just stored from these arguments, without reading it back."""
    return Alliance(
        id=row.id,
        type=EventType(row.type),
        specialty=row.specialty,
        lead=tuple(public_institution(institutions[i]) for i in facts.lead),
        members=tuple(public_institution(institutions[i]) for i in facts.members),
        date=row.date,
        provinces=tuple(document.get("provinces", ())),
        cross_province=row.cross_province,
        confidence=row.confidence,
        first_seen=utc(row.first_seen),
        last_seen=utc(row.last_seen),
        sources=tuple(AllianceSource(**s) for s in document.get("sources", ())),
    )


def append_outbox(
    session: Session, change: CommittedChange, alliance: Alliance, now: datetime
) -> None:
    """Append the change with the alliance as it now stands; outbox ids keep commit order."""
    message = AllianceChange(
        change_id=change.change_id,
        alliance_id=change.alliance_id,
        kind=change.kind,
        changed_fields=change.changed_fields,
        alliance=alliance,
        occurred_at=now,
        by_review=change.by_review,
        merged_into=change.merged_into,
    )
    session.connection().execute(
        _INSERT_OUTBOX,
        {
            "change_id": change.change_id,
            "alliance_id": change.alliance_id,
            "payload": message.model_dump_json(),
            "created_at": now,
            "trace_context": tracing.current_carrier(),
        },
    )
