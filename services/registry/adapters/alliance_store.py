"""One alliance as stored: its row with the JSON document (sources, alternatives), its
institution and place rows for filtering, and the outbox entry for each change, all written
in the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert
from sqlmodel import Session, col

from services.common import tracing
from services.common.contracts import (
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
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
#: An alliance's institution and place rows, deleted as plain statements (``write_alliance``).
_DELETE_INDEX = tuple(
    delete(table).where(col(table.alliance_id) == bindparam("alliance_id"))
    for table in (AllianceInstitutionRow, AlliancePlaceRow)
)
_SOME_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: A new alliance's row as ``AllianceRow`` makes it: what its facts do not decide (its
#: review, corrections) keeps the model's defaults; the rest is set when it is stored.
_NEW_ALLIANCE = row_values(
    AllianceRow(
        id="",
        type="",
        cross_province=False,
        confidence=0.0,
        first_seen=_SOME_TIME,
        last_seen=_SOME_TIME,
        revision=0,
        source_count=0,
        updated_at=_SOME_TIME,
    )
)


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
    index_objects: bool = True,
) -> None:
    """Store the alliance's row (``document``: its JSON) and its institution and place
    rows; ``institutions`` holds at least its lead's and members' records, as stored.
    ``index_objects``: False when the session holds none of those rows as objects (the
    write path never loads them), so the DELETEs need not look for them among all the
    objects it holds."""
    for name, value in _fact_columns(facts, document, institutions, now).items():
        setattr(row, name, value)
    row.revision += 1
    connection = session.connection()
    if row in session:
        # Its institution and place rows are replaced; the DELETEs flush the row first.
        if index_objects:
            for table in (AllianceInstitutionRow, AlliancePlaceRow):
                session.exec(  # type: ignore[call-overload]
                    delete(table).where(col(table.alliance_id) == row.id)
                )
        else:
            session.flush()
            for statement in _DELETE_INDEX:
                connection.execute(statement, {"alliance_id": row.id})
    else:
        # A new alliance (no institution or place rows yet) is one plain INSERT: the
        # session does not track it; read again later in the transaction, it is loaded.
        connection.execute(_INSERT_ALLIANCE, row_values(row))
    _insert_index(connection, row.id, facts, institutions)


def insert_alliance(
    session: Session,
    alliance_id: str,
    revision: int,
    facts: AllianceFacts,
    document: str,
    institutions: Mapping[str, InstitutionRecord],
    now: datetime,
) -> int:
    """Store a new alliance as ``write_alliance`` stores a new ``AllianceRow`` of this id
    and ``revision``, without making one: filling an ORM object in costs more than its
    INSERT. Returns the revision it is stored with."""
    values = {
        **_NEW_ALLIANCE,
        **_fact_columns(facts, document, institutions, now),
        "id": alliance_id,
        "revision": revision + 1,
    }
    connection = session.connection()
    connection.execute(_INSERT_ALLIANCE, values)
    _insert_index(connection, alliance_id, facts, institutions)
    return revision + 1


def _fact_columns(
    facts: AllianceFacts,
    document: str,
    institutions: Mapping[str, InstitutionRecord],
    now: datetime,
) -> dict[str, Any]:
    """The columns of an alliance's row that its facts decide (all but its id, revision,
    review and corrections)."""
    span = parse_event_date(facts.date)
    names = [facts.specialty or ""]
    for ident in (*facts.lead, *facts.members):
        names.append(institutions[ident].name)
        names.extend(institutions[ident].aliases)
    return {
        "type": facts.type.value,
        "specialty": facts.specialty,
        "date": facts.date,
        "date_start": span[0] if span else None,
        "date_end": span[1] if span else None,
        "cross_province": facts.cross_province,
        "confidence": facts.confidence,
        "first_seen": facts.first_seen,
        "last_seen": facts.last_seen,
        "source_count": len(facts.article_ids),
        "document": document,
        "updated_at": now,
        "search_text": "\n".join(n for n in names if n),
    }


def _insert_index(
    connection: Connection,
    alliance_id: str,
    facts: AllianceFacts,
    institutions: Mapping[str, InstitutionRecord],
) -> None:
    """The alliance's institution and place rows: plain INSERTs, several rows each, as
    nothing reads these rows back as objects."""
    roles = [("lead", i) for i in facts.lead] + [("member", i) for i in facts.members]
    places: set[tuple[str, str]] = {("province", province_key(p)) for p in facts.provinces}
    for _, ident in roles:
        place = institutions[ident].place
        places |= {(str(k), v) for k, v in keys_of(place.province, place.city, place.county)}
    if roles:
        connection.execute(
            _INSERT_INSTITUTION_LINKS,
            [
                {"alliance_id": alliance_id, "institution_id": ident, "role": role, "position": n}
                for n, (role, ident) in enumerate(roles)
            ],
        )
    if places:
        connection.execute(
            _INSERT_PLACES,
            [
                {"alliance_id": alliance_id, "kind": kind, "value": value[:60]}
                for kind, value in sorted(places)
            ],
        )


def alliance_of(
    alliance_id: str,
    facts: AllianceFacts,
    document: Mapping[str, Any],
    institutions: Mapping[str, InstitutionRecord],
) -> Alliance:
    """The alliance as ``queries.alliance_views`` would read back what ``write_alliance``
    (or ``insert_alliance``) just stored from these arguments, without reading it back."""
    return Alliance(
        id=alliance_id,
        type=facts.type,
        specialty=facts.specialty,
        lead=tuple(public_institution(institutions[i]) for i in facts.lead),
        members=tuple(public_institution(institutions[i]) for i in facts.members),
        date=facts.date,
        provinces=tuple(document.get("provinces", ())),
        cross_province=facts.cross_province,
        confidence=facts.confidence,
        first_seen=utc(facts.first_seen),
        last_seen=utc(facts.last_seen),
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
