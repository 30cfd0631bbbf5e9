"""The registry's SQLModel repository: the write path (extractions, renames) and queries.

Every write is one database transaction that also appends the resulting changes to the
outbox, so a change is published if and only if it was committed. Writers are serialised:
in-process by a lock, across replicas by a PostgreSQL advisory lock held for the
transaction, so concurrent consumers cannot found the same alliance twice.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, func, or_, text, update
from sqlmodel import Session, col, select

from services.common import tracing
from services.common.contracts import (
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
    EventType,
    ExtractedArticle,
    Institution,
)
from services.common.places import city_key, county_key, keys_of, province_key
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    ArticleRow,
    InstitutionNameRow,
    InstitutionRow,
    OutboxRow,
    RenameRow,
    ReportRow,
)
from services.registry.domain.alliances import (
    AllianceFacts,
    AllianceSummary,
    Alternative,
    Report,
    aggregate,
    best_match,
    changed_fields,
    match_score,
    new_alliance_id,
    normalize_provinces,
    normalize_specialty,
    parse_event_date,
)
from services.registry.domain.institutions import (
    InstitutionRecord,
    Place,
    match_institution,
    merge_into,
    new_record,
    renamed_record,
    resolve_name,
)
from services.registry.domain.names import clean_name, name_key

_WRITE_LOCK_KEY = 0x72656772  # "regr"
MAX_NAME_LENGTH = 120


def utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which are UTC by construction."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def fingerprint(message: ExtractedArticle) -> str:
    """What an extraction says, without when it was made: equal for a replayed message."""
    body = message.model_dump(mode="json", exclude={"extracted_at", "schema_version"})
    return hashlib.sha256(_dumps(body).encode()).hexdigest()


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """1.10 after 1.9; non-numeric parts compare as text after numbers."""
    parts = [p for p in version.replace("-", ".").replace("+", ".").split(".") if p]
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def is_older(message: ExtractedArticle, row: ArticleRow) -> bool:
    """Whether ``message`` is an earlier extraction than the one the registry keeps."""
    new, kept = version_key(message.extractor_version), version_key(row.extractor_version)
    if new != kept:
        return new < kept
    return utc(message.extracted_at) < utc(row.extracted_at)


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommittedChange:
    change_id: str
    alliance_id: str
    kind: ChangeKind
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class ApplyOutcome:
    """What taking in one extraction did."""

    status: str  # "applied", "unchanged" (a replay) or "stale" (an older extraction)
    alliance_ids: tuple[str, ...] = ()
    changes: tuple[CommittedChange, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllianceView:
    alliance: Alliance
    alternatives: Mapping[str, tuple[Alternative, ...]]
    revision: int


@dataclass(frozen=True)
class InstitutionView:
    institution: Institution
    alliance_count: int = 0


@dataclass
class AllianceFilters:
    province: str | None = None
    city: str | None = None
    county: str | None = None
    type: EventType | None = None
    specialty: str | None = None
    institution: str | None = None
    since: date | None = None
    until: date | None = None
    q: str | None = None


@dataclass
class _Working:
    """Alliances touched by one write, before and after."""

    before: dict[str, AllianceFacts | None] = field(default_factory=dict)
    reports: dict[str, list[Report]] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)


class CursorError(ValueError):
    """A pagination cursor that this API did not hand out."""


def encode_cursor(*values: str) -> str:
    return base64.urlsafe_b64encode(_dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CursorError("invalid cursor") from exc
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(isinstance(v, str) for v in values)
    ):
        raise CursorError("invalid cursor")
    return values


class RegistryRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    # --- write path ---------------------------------------------------------------------

    def _serialise(self, session: Session) -> None:
        if self.engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY})

    def apply_extraction(self, message: ExtractedArticle, now: datetime) -> ApplyOutcome:
        """Take in one article's extraction; replaces what an earlier extraction said."""
        now = utc(now)
        digest = fingerprint(message)
        with self._lock, Session(self.engine) as session:
            self._serialise(session)
            article = session.get(ArticleRow, message.article_id)
            if article is not None and article.fingerprint == digest:
                return ApplyOutcome("unchanged")
            if article is not None and is_older(message, article):
                return ApplyOutcome("stale")
            seen_at = utc(article.first_received_at) if article is not None else now
            if article is None:
                article = ArticleRow(
                    article_id=message.article_id,
                    extractor_version=message.extractor_version,
                    extracted_at=utc(message.extracted_at),
                    fingerprint=digest,
                    relevant=message.relevant,
                    event_count=len(message.events),
                    first_received_at=now,
                    updated_at=now,
                )
            article.extractor_version = message.extractor_version
            article.extracted_at = utc(message.extracted_at)
            article.fingerprint = digest
            article.relevant = message.relevant
            article.event_count = len(message.events)
            article.url = message.url
            article.title = message.title
            article.published_at = message.published_at
            article.updated_at = now
            session.add(article)

            work = _Working()
            old_rows = session.exec(
                select(ReportRow).where(ReportRow.article_id == message.article_id)
            ).all()
            ghosts: dict[str, list[Report]] = defaultdict(list)
            for row in old_rows:
                self._load_alliance(session, work, row.alliance_id)
                ghosts[row.alliance_id].append(_report_of(row))
                session.delete(row)
            for alliance_id in list(work.reports):
                work.reports[alliance_id] = [
                    r for r in work.reports[alliance_id] if r.article_id != message.article_id
                ]

            renames = self._renames(session)
            new_rows: list[ReportRow] = []
            if message.relevant:
                for index, event in enumerate(message.events):
                    lead = self._resolve_all(session, event.lead, renames, now)
                    members = [
                        i
                        for i in self._resolve_all(session, event.members, renames, now)
                        if i not in lead
                    ]
                    if not lead and not members:
                        continue  # nothing to identify an alliance by
                    report = Report(
                        article_id=message.article_id,
                        event_index=index,
                        type=event.type,
                        specialty=normalize_specialty(event.specialty),
                        lead=tuple(lead),
                        members=tuple(members),
                        date=event.date,
                        provinces=normalize_provinces(event.provinces),
                        cross_province=event.cross_province,
                        confidence=event.confidence,
                        evidence=event.evidence.text,
                        seen_at=seen_at,
                    )
                    alliance_id = self._place_report(
                        session, work, ghosts, report, message.extractor_version
                    )
                    work.reports.setdefault(alliance_id, []).append(report)
                    new_rows.append(_row_of(report, alliance_id))
            session.flush()
            changes, removed = self._commit_alliances(session, work, now, new_rows)
            session.commit()
            touched = tuple(dict.fromkeys(r.alliance_id for r in new_rows))
            return ApplyOutcome("applied", touched, tuple(changes), tuple(removed))

    def _resolve_all(
        self,
        session: Session,
        mentions: Iterable[Any],
        renames: Mapping[str, str],
        now: datetime,
    ) -> list[str]:
        ids: list[str] = []
        for mention in mentions:
            if len(clean_name(mention.name)) > MAX_NAME_LENGTH:
                continue
            ident = self._resolve(session, mention, renames, now)
            if ident and ident not in ids:
                ids.append(ident)
        return ids

    def _resolve(
        self, session: Session, mention: Any, renames: Mapping[str, str], now: datetime
    ) -> str | None:
        resolved = resolve_name(mention, renames)
        if not resolved.key:
            return None
        keys = {resolved.key, *resolved.alias_keys}
        candidate_ids = session.exec(
            select(InstitutionNameRow.institution_id).where(col(InstitutionNameRow.key).in_(keys))
        ).all()
        rows = (
            session.exec(
                select(InstitutionRow).where(col(InstitutionRow.id).in_(candidate_ids))
            ).all()
            if candidate_ids
            else []
        )
        records = {row.id: _record_of(row) for row in rows}
        found = match_institution(resolved, records.values())
        if found is None:
            existing = session.exec(
                select(InstitutionRow.id).where(
                    col(InstitutionRow.id).startswith(new_record(resolved).id)
                )
            ).all()
            record = new_record(resolved, existing)
            row = InstitutionRow(
                id=record.id, name=record.name, key=record.key, created_at=now, updated_at=now
            )
            _fill_institution(row, record)
            session.add(row)
            self._index_names(session, record, set())
            session.flush()
            return record.id
        merged = merge_into(found, resolved)
        if merged != found:
            row = next(r for r in rows if r.id == found.id)
            _fill_institution(row, merged)
            row.updated_at = now
            session.add(row)
            self._index_names(session, merged, found.keys)
        return found.id

    def _index_names(
        self, session: Session, record: InstitutionRecord, known: Iterable[str]
    ) -> None:
        for key in sorted(record.keys - set(known)):
            if key and session.get(InstitutionNameRow, (key, record.id)) is None:
                session.add(InstitutionNameRow(key=key, institution_id=record.id))

    def _renames(self, session: Session) -> dict[str, str]:
        return {r.old_key: r.new_name for r in session.exec(select(RenameRow)).all()}

    def _load_alliance(self, session: Session, work: _Working, alliance_id: str) -> None:
        if alliance_id in work.reports:
            return
        rows = session.exec(select(ReportRow).where(ReportRow.alliance_id == alliance_id)).all()
        reports = [_report_of(r) for r in rows]
        work.reports[alliance_id] = reports
        work.existing.add(alliance_id)
        work.before[alliance_id] = (
            aggregate(reports, self._provinces_of(session, reports)) if reports else None
        )

    def _place_report(
        self,
        session: Session,
        work: _Working,
        ghosts: Mapping[str, list[Report]],
        report: Report,
        extractor_version: str,
    ) -> str:
        """The alliance a report belongs to: an existing one, or a new id."""
        linked = session.exec(
            select(AllianceInstitutionRow.alliance_id)
            .where(col(AllianceInstitutionRow.institution_id).in_(report.institutions))
            .distinct()
        ).all()
        for alliance_id in linked:
            self._load_alliance(session, work, alliance_id)
        summaries = []
        for alliance_id, reports in work.reports.items():
            basis = reports or ghosts.get(alliance_id, [])
            if basis:
                summaries.append(AllianceSummary.of(alliance_id, basis))
        found = best_match(report, summaries)
        if found is not None:
            return found
        alliance_id = new_alliance_id(report, extractor_version)
        while alliance_id in work.reports or session.get(AllianceRow, alliance_id) is not None:
            alliance_id = "a" + hashlib.sha256(alliance_id.encode()).hexdigest()[:15]
        work.reports[alliance_id] = []
        work.before[alliance_id] = None
        return alliance_id

    def _provinces_of(self, session: Session, reports: Sequence[Report]) -> dict[str, str | None]:
        ids = {i for r in reports for i in r.institutions}
        if not ids:
            return {}
        rows = session.exec(
            select(InstitutionRow.id, InstitutionRow.province).where(
                col(InstitutionRow.id).in_(ids)
            )
        ).all()
        return {ident: province for ident, province in rows}

    def _commit_alliances(
        self, session: Session, work: _Working, now: datetime, new_rows: Sequence[ReportRow]
    ) -> tuple[list[CommittedChange], list[str]]:
        changes: list[CommittedChange] = []
        removed: list[str] = []
        pending_rows = {row.alliance_id for row in new_rows}
        for alliance_id in sorted(work.reports, key=lambda a: (a not in pending_rows, a)):
            reports = work.reports[alliance_id]
            current = session.get(AllianceRow, alliance_id)
            if not reports:
                if current is not None:
                    session.exec(  # type: ignore[call-overload]
                        delete(ReportRow).where(col(ReportRow.alliance_id) == alliance_id)
                    )
                    session.delete(current)
                    removed.append(alliance_id)
                continue
            facts = aggregate(reports, self._provinces_of(session, reports))
            document = self._document(session, facts, reports)
            before = work.before.get(alliance_id)
            if current is not None and before is not None:
                fields = changed_fields(before, facts)
                if not fields and current.document != _dumps(document):
                    fields = ("sources",)
                if not fields:
                    continue
                kind = ChangeKind.updated
            else:
                fields = changed_fields(None, facts)
                kind = ChangeKind.created if current is None else ChangeKind.updated
            if current is None:
                current = AllianceRow(
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
            self._write_alliance(session, current, facts, document, now)
            session.flush()
            for report_row in new_rows:
                if report_row.alliance_id == alliance_id:
                    session.add(report_row)
            session.flush()
            change = CommittedChange(
                change_id=f"{alliance_id}-r{current.revision}",
                alliance_id=alliance_id,
                kind=kind,
                changed_fields=fields,
            )
            self._append_outbox(session, change, now)
            changes.append(change)
        # Reports of alliances whose facts did not change still have to be stored.
        for report_row in new_rows:
            if session.get(ReportRow, report_row.id) is None:
                session.add(report_row)
        return changes, removed

    def _document(
        self, session: Session, facts: AllianceFacts, reports: Sequence[Report]
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
                        article.published_at.isoformat()
                        if article and article.published_at
                        else None
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

    def _write_alliance(
        self,
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
        row.document = _dumps(document)
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

    def _append_outbox(self, session: Session, change: CommittedChange, now: datetime) -> None:
        view = self._views(session, [change.alliance_id])[0]
        message = AllianceChange(
            change_id=change.change_id,
            alliance_id=change.alliance_id,
            kind=change.kind,
            changed_fields=change.changed_fields,
            alliance=view.alliance,
            occurred_at=now,
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

    # --- renames --------------------------------------------------------------------------

    def list_renames(self) -> list[RenameRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(RenameRow).order_by(col(RenameRow.id))).all())

    def put_rename(self, old_name: str, new_name: str, now: datetime) -> tuple[RenameRow, bool]:
        """Record that ``old_name`` became ``new_name`` and fold the institutions together.

        Returns the rule and whether it is new. Alliances whose institutions changed get an
        ``updated`` change through the outbox, in the same transaction.
        """
        now = utc(now)
        old_key, new_key = name_key(old_name), name_key(new_name)
        if not old_key or not new_key or old_key == new_key:
            raise ValueError("the old and the new name must be two different names")
        with self._lock, Session(self.engine) as session:
            self._serialise(session)
            rule = session.exec(select(RenameRow).where(RenameRow.old_key == old_key)).first()
            created = rule is None
            if rule is None:
                rule = RenameRow(
                    old_key=old_key, old_name=clean_name(old_name), new_name="", created_at=now
                )
            rule.new_name = clean_name(new_name)
            session.add(rule)
            session.flush()
            self._fold_renamed(session, old_key, rule.new_name, now)
            session.commit()
            session.refresh(rule)
            return rule, created

    def delete_rename(self, rename_id: int) -> bool:
        """Forget a rule; institutions already folded together stay together."""
        with self._lock, Session(self.engine) as session:
            rule = session.get(RenameRow, rename_id)
            if rule is None:
                return False
            session.delete(rule)
            session.commit()
            return True

    def _fold_renamed(self, session: Session, old_key: str, new_name: str, now: datetime) -> None:
        olds = session.exec(select(InstitutionRow).where(InstitutionRow.key == old_key)).all()
        if not olds:
            return
        work = _Working()
        new_key = name_key(new_name)
        for old in olds:
            links = session.exec(
                select(AllianceInstitutionRow.alliance_id).where(
                    AllianceInstitutionRow.institution_id == old.id
                )
            ).all()
            for alliance_id in links:
                self._load_alliance(session, work, alliance_id)
            record = _record_of(old)
            targets = [
                _record_of(r)
                for r in session.exec(
                    select(InstitutionRow).where(InstitutionRow.key == new_key)
                ).all()
            ]
            target = next((t for t in targets if not t.place.conflicts_with(record.place)), None)
            if target is None:
                renamed = renamed_record(record, new_name)
                _fill_institution(old, renamed)
                old.updated_at = now
                session.add(old)
                self._index_names(session, renamed, record.keys)
                continue
            # Fold the old institution into the one already known under the new name.
            merged = InstitutionRecord(
                id=target.id,
                name=target.name,
                key=target.key,
                aliases=tuple(
                    dict.fromkeys(
                        a
                        for a in (*target.aliases, record.name, *record.aliases)
                        if a != target.name
                    )
                ),
                place=target.place.filled_from(record.place),
            )
            for alliance_id in session.exec(
                select(AllianceInstitutionRow.alliance_id).where(
                    AllianceInstitutionRow.institution_id == target.id
                )
            ).all():
                self._load_alliance(session, work, alliance_id)
            target_row = session.get(InstitutionRow, target.id)
            assert target_row is not None
            _fill_institution(target_row, merged)
            target_row.updated_at = now
            session.add(target_row)
            self._index_names(session, merged, target.keys)
            for alliance_id, reports in work.reports.items():
                work.reports[alliance_id] = [_replace_id(r, old.id, target.id) for r in reports]
            for report_row in session.exec(
                select(ReportRow).where(col(ReportRow.alliance_id).in_(list(work.reports)))
            ).all():
                report_row.lead = _dumps(_swap(json.loads(report_row.lead), old.id, target.id))
                report_row.members = _dumps(
                    _swap(json.loads(report_row.members), old.id, target.id)
                )
                session.add(report_row)
            session.exec(  # type: ignore[call-overload]
                delete(AllianceInstitutionRow).where(
                    col(AllianceInstitutionRow.institution_id) == old.id
                )
            )
            session.flush()
            session.delete(old)
        session.flush()
        self._merge_duplicates(session, work)
        self._commit_alliances(session, work, now, [])

    def _merge_duplicates(self, session: Session, work: _Working) -> None:
        """Alliances that turn out to be one (their institutions were folded): the later
        one's reports move to the earlier one, and the later one goes."""
        ids = sorted(
            (a for a, reports in work.reports.items() if reports),
            key=lambda a: (min(r.seen_at for r in work.reports[a]), a),
        )
        for position, keep in enumerate(ids):
            for other in ids[position + 1 :]:
                if not work.reports[keep] or not work.reports[other]:
                    continue
                target = AllianceSummary.of(keep, work.reports[keep])
                if all(match_score(r, target) is not None for r in work.reports[other]):
                    work.reports[keep].extend(work.reports[other])
                    work.reports[other] = []
                    session.exec(  # type: ignore[call-overload]
                        update(ReportRow)
                        .where(col(ReportRow.alliance_id) == other)
                        .values(alliance_id=keep)
                    )

    # --- queries --------------------------------------------------------------------------

    def _views(self, session: Session, ids: Sequence[str]) -> list[AllianceView]:
        if not ids:
            return []
        rows = {
            r.id: r
            for r in session.exec(select(AllianceRow).where(col(AllianceRow.id).in_(ids))).all()
        }
        links = session.exec(
            select(AllianceInstitutionRow, InstitutionRow)
            .join(InstitutionRow, col(InstitutionRow.id) == AllianceInstitutionRow.institution_id)
            .where(col(AllianceInstitutionRow.alliance_id).in_(ids))
            .order_by(col(AllianceInstitutionRow.position))
        ).all()
        roles: dict[str, dict[str, list[Institution]]] = defaultdict(
            lambda: {"lead": [], "member": []}
        )
        for link, inst in links:
            roles[link.alliance_id][link.role].append(_institution_of(inst))
        views = []
        for ident in ids:
            row = rows.get(ident)
            if row is None:
                continue
            document = json.loads(row.document)
            alliance = Alliance(
                id=row.id,
                type=EventType(row.type),
                specialty=row.specialty,
                lead=tuple(roles[row.id]["lead"]),
                members=tuple(roles[row.id]["member"]),
                date=row.date,
                provinces=tuple(document.get("provinces", ())),
                cross_province=row.cross_province,
                confidence=row.confidence,
                first_seen=utc(row.first_seen),
                last_seen=utc(row.last_seen),
                sources=tuple(AllianceSource(**s) for s in document.get("sources", ())),
            )
            alternatives = {
                name: tuple(
                    Alternative(a["value"], a["support"], tuple(a["article_ids"])) for a in alts
                )
                for name, alts in document.get("alternatives", {}).items()
            }
            views.append(AllianceView(alliance, alternatives, row.revision))
        return views

    def _conditions(self, session: Session, filters: AllianceFilters) -> list[Any]:
        conditions: list[Any] = []
        for kind, value in (
            ("province", filters.province and province_key(filters.province)),
            ("city", filters.city and city_key(filters.city)),
            ("county", filters.county and county_key(filters.county)),
        ):
            if value:
                conditions.append(
                    exists().where(
                        col(AlliancePlaceRow.alliance_id) == col(AllianceRow.id),
                        col(AlliancePlaceRow.kind) == kind,
                        col(AlliancePlaceRow.value) == value,
                    )
                )
        if filters.type is not None:
            conditions.append(col(AllianceRow.type) == filters.type.value)
        if filters.specialty:
            conditions.append(col(AllianceRow.specialty) == normalize_specialty(filters.specialty))
        if filters.institution:
            wanted = filters.institution.strip()
            ids = set(
                session.exec(
                    select(InstitutionNameRow.institution_id).where(
                        col(InstitutionNameRow.key) == name_key(wanted)
                    )
                ).all()
            )
            if session.get(InstitutionRow, wanted) is not None:
                ids.add(wanted)
            # Resolved first, so the database starts from the institution's few alliances.
            conditions.append(
                col(AllianceRow.id).in_(
                    select(AllianceInstitutionRow.alliance_id).where(
                        col(AllianceInstitutionRow.institution_id).in_(sorted(ids) or [""])
                    )
                )
            )
        if filters.since is not None:
            conditions.append(col(AllianceRow.date_end) >= filters.since)
        if filters.until is not None:
            conditions.append(col(AllianceRow.date_start) <= filters.until)
        if filters.q:
            conditions.append(col(AllianceRow.search_text).contains(filters.q, autoescape=True))
        return conditions

    def list_alliances(
        self, filters: AllianceFilters, limit: int, cursor: str | None = None
    ) -> tuple[list[AllianceView], str | None]:
        """Newest first (by first seen), keyset-paginated."""
        with Session(self.engine) as session:
            return self._list_alliances(session, filters, limit, cursor)

    def _list_alliances(
        self, session: Session, filters: AllianceFilters, limit: int, cursor: str | None
    ) -> tuple[list[AllianceView], str | None]:
        stmt = select(AllianceRow.id, AllianceRow.first_seen).where(
            *self._conditions(session, filters)
        )
        if cursor:
            seen_text, last_id = decode_cursor(cursor, 2)
            try:
                seen = datetime.fromisoformat(seen_text)
            except ValueError as exc:
                raise CursorError("invalid cursor") from exc
            stmt = stmt.where(
                or_(
                    col(AllianceRow.first_seen) < seen,
                    and_(col(AllianceRow.first_seen) == seen, col(AllianceRow.id) < last_id),
                )
            )
        stmt = stmt.order_by(col(AllianceRow.first_seen).desc(), col(AllianceRow.id).desc())
        page = session.exec(stmt.limit(limit + 1)).all()
        views = self._views(session, [ident for ident, _ in page[:limit]])
        next_cursor = None
        if len(page) > limit:
            ident, seen = page[limit - 1]
            next_cursor = encode_cursor(utc(seen).isoformat(), ident)
        return views, next_cursor

    def iter_alliances(
        self, filters: AllianceFilters, batch: int = 500, maximum: int | None = None
    ) -> Iterator[AllianceView]:
        cursor: str | None = None
        given = 0
        while True:
            views, cursor = self.list_alliances(filters, batch, cursor)
            for view in views:
                if maximum is not None and given >= maximum:
                    return
                given += 1
                yield view
            if cursor is None:
                return

    def get_alliance(self, alliance_id: str) -> AllianceView | None:
        with Session(self.engine) as session:
            views = self._views(session, [alliance_id])
        return views[0] if views else None

    def list_institutions(
        self,
        q: str | None,
        limit: int,
        cursor: str | None = None,
        province: str | None = None,
    ) -> tuple[list[InstitutionView], str | None]:
        stmt = select(InstitutionRow)
        if q:
            stmt = stmt.where(
                or_(
                    col(InstitutionRow.name).contains(clean_name(q), autoescape=True),
                    col(InstitutionRow.aliases).contains(clean_name(q), autoescape=True),
                )
            )
        if province:
            stmt = stmt.where(col(InstitutionRow.province) == province_key(province))
        if cursor:
            name, last_id = decode_cursor(cursor, 2)
            stmt = stmt.where(
                or_(
                    col(InstitutionRow.name) > name,
                    and_(col(InstitutionRow.name) == name, col(InstitutionRow.id) > last_id),
                )
            )
        stmt = stmt.order_by(col(InstitutionRow.name), col(InstitutionRow.id)).limit(limit + 1)
        with Session(self.engine) as session:
            rows = session.exec(stmt).all()
            page = rows[:limit]
            counts = dict(
                session.exec(
                    select(
                        AllianceInstitutionRow.institution_id,
                        func.count(col(AllianceInstitutionRow.alliance_id)),
                    )
                    .where(col(AllianceInstitutionRow.institution_id).in_([r.id for r in page]))
                    .group_by(col(AllianceInstitutionRow.institution_id))
                ).all()
            )
        views = [InstitutionView(_institution_of(r), int(counts.get(r.id, 0))) for r in page]
        next_cursor = encode_cursor(page[-1].name, page[-1].id) if len(rows) > limit else None
        return views, next_cursor

    def get_institution(
        self, institution_id: str, limit: int = 500
    ) -> tuple[InstitutionView, list[tuple[str, AllianceView]]] | None:
        """The institution and its alliances (newest first), each with its role."""
        with Session(self.engine) as session:
            row = session.get(InstitutionRow, institution_id)
            if row is None:
                return None
            links = session.exec(
                select(AllianceInstitutionRow.alliance_id, AllianceInstitutionRow.role)
                .join(AllianceRow, col(AllianceRow.id) == AllianceInstitutionRow.alliance_id)
                .where(AllianceInstitutionRow.institution_id == institution_id)
                .order_by(col(AllianceRow.first_seen).desc(), col(AllianceRow.id).desc())
                .limit(limit)
            ).all()
            roles = dict(links)
            views = self._views(session, [a for a, _ in links])
            total = session.exec(
                select(func.count()).where(AllianceInstitutionRow.institution_id == institution_id)
            ).one()
        return InstitutionView(_institution_of(row), int(total)), [
            (roles[v.alliance.id], v) for v in views
        ]

    def stats(self, filters: AllianceFilters) -> dict[str, Any]:
        with Session(self.engine) as session:
            ids = select(AllianceRow.id).where(*self._conditions(session, filters))
            total = session.exec(select(func.count()).select_from(ids.subquery())).one()

            def grouped(stmt: Any) -> dict[str, int]:
                return {str(k): int(n) for k, n in session.exec(stmt).all() if k is not None}

            count = func.count()
            by_province = grouped(
                select(AlliancePlaceRow.value, count)
                .where(
                    AlliancePlaceRow.kind == "province", col(AlliancePlaceRow.alliance_id).in_(ids)
                )
                .group_by(col(AlliancePlaceRow.value))
            )
            by_type = grouped(
                select(AllianceRow.type, count)
                .where(col(AllianceRow.id).in_(ids))
                .group_by(col(AllianceRow.type))
            )
            by_specialty = grouped(
                select(AllianceRow.specialty, count)
                .where(col(AllianceRow.id).in_(ids), col(AllianceRow.specialty).is_not(None))
                .group_by(col(AllianceRow.specialty))
            )
            month = func.substr(col(AllianceRow.date), 1, 7)
            by_month = grouped(
                select(month, count)
                .where(col(AllianceRow.id).in_(ids), col(AllianceRow.date).is_not(None))
                .group_by(month)
            )
        return {
            "total": int(total),
            "by_province": dict(sorted(by_province.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_specialty": dict(sorted(by_specialty.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_month": dict(sorted(by_month.items())),
        }

    def get_article(self, article_id: str) -> tuple[ArticleRow, list[str]] | None:
        with Session(self.engine) as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                return None
            alliances = session.exec(
                select(ReportRow.alliance_id)
                .where(ReportRow.article_id == article_id)
                .order_by(col(ReportRow.event_index))
            ).all()
        return row, list(dict.fromkeys(alliances))

    def list_articles(
        self, limit: int, cursor: str | None = None
    ) -> tuple[list[tuple[ArticleRow, list[str]]], str | None]:
        """One page of articles, each with the alliances it reports (as ``get_article``)."""
        stmt = select(ArticleRow)
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            stmt = stmt.where(col(ArticleRow.article_id) > last)
        with Session(self.engine) as session:
            rows = list(
                session.exec(stmt.order_by(col(ArticleRow.article_id)).limit(limit + 1)).all()
            )
            page = rows[:limit]
            reported: dict[str, list[str]] = {row.article_id: [] for row in page}
            if page:
                for article_id, alliance_id in session.exec(
                    select(ReportRow.article_id, ReportRow.alliance_id)
                    .where(col(ReportRow.article_id).in_(list(reported)))
                    .order_by(col(ReportRow.article_id), col(ReportRow.event_index))
                ).all():
                    if alliance_id not in reported[article_id]:
                        reported[article_id].append(alliance_id)
        return (
            [(row, reported[row.article_id]) for row in page],
            encode_cursor(page[-1].article_id) if len(rows) > limit else None,
        )

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return {
                name: int(session.exec(select(func.count()).select_from(table)).one())
                for name, table in (
                    ("alliances", AllianceRow),
                    ("institutions", InstitutionRow),
                    ("articles", ArticleRow),
                    ("reports", ReportRow),
                    ("outbox", OutboxRow),
                )
            }

    # --- outbox ---------------------------------------------------------------------------

    def pending_changes(self, limit: int) -> list[OutboxRow]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(OutboxRow)
                    .where(col(OutboxRow.sent_at).is_(None))
                    .order_by(col(OutboxRow.id))
                    .limit(limit)
                ).all()
            )

    def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        if not ids:
            return
        with Session(self.engine) as session:
            for row in session.exec(select(OutboxRow).where(col(OutboxRow.id).in_(ids))).all():
                row.sent_at = utc(now)
                session.add(row)
            session.commit()

    def outbox(self) -> list[OutboxRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


def _swap(ids: list[str], old: str, new: str) -> list[str]:
    return list(dict.fromkeys(new if i == old else i for i in ids))


def _replace_id(report: Report, old: str, new: str) -> Report:
    lead = tuple(_swap(list(report.lead), old, new))
    members = tuple(i for i in _swap(list(report.members), old, new) if i not in lead)
    return replace(report, lead=lead, members=members)


def _record_of(row: InstitutionRow) -> InstitutionRecord:
    return InstitutionRecord(
        id=row.id,
        name=row.name,
        key=row.key,
        aliases=tuple(json.loads(row.aliases)),
        place=Place(province=row.province, city=row.city, county=row.county),
    )


def _fill_institution(row: InstitutionRow, record: InstitutionRecord) -> None:
    row.name = record.name[:200]
    row.key = record.key[:200]
    row.aliases = _dumps([a[:200] for a in record.aliases])
    row.province = record.place.province[:40] if record.place.province else None
    row.city = record.place.city[:60] if record.place.city else None
    row.county = record.place.county[:60] if record.place.county else None


def _institution_of(row: InstitutionRow) -> Institution:
    return Institution(
        id=row.id,
        name=row.name,
        aliases=tuple(json.loads(row.aliases)),
        province=row.province,
        city=row.city,
        county=row.county,
    )


def _report_of(row: ReportRow) -> Report:
    return Report(
        article_id=row.article_id,
        event_index=row.event_index,
        type=EventType(row.type),
        specialty=row.specialty,
        lead=tuple(json.loads(row.lead)),
        members=tuple(json.loads(row.members)),
        date=row.date,
        provinces=tuple(json.loads(row.provinces)),
        cross_province=row.cross_province,
        confidence=row.confidence,
        evidence=row.evidence,
        seen_at=utc(row.seen_at),
    )


def _row_of(report: Report, alliance_id: str) -> ReportRow:
    return ReportRow(
        id=f"{report.article_id}#{report.event_index}",
        article_id=report.article_id,
        event_index=report.event_index,
        alliance_id=alliance_id,
        type=report.type.value,
        specialty=report.specialty[:60] if report.specialty else None,
        date=report.date,
        provinces=_dumps(list(report.provinces)),
        cross_province=report.cross_province,
        confidence=report.confidence,
        evidence=report.evidence,
        lead=_dumps(list(report.lead)),
        members=_dumps(list(report.members)),
        seen_at=report.seen_at,
    )


# --- dashboard aggregates (read-only; the page at / and its /v1/views endpoints) -------

#: Columns the dashboard's table sorts by; each ends with the id to make the order total.
DASHBOARD_SORTS = ("date", "first_seen", "confidence", "type", "specialty")


def _filtered_ids(
    repository: RegistryRepository, session: Session, filters: AllianceFilters
) -> Any:
    """The ids of the alliances matching ``filters`` as a subquery, or None for all."""
    conditions = repository._conditions(session, filters)
    return select(AllianceRow.id).where(*conditions) if conditions else None


def dashboard_map(repository: RegistryRepository, filters: AllianceFilters) -> dict[str, Any]:
    """Alliances per province, and per pair of provinces that cross-province alliances join."""
    with Session(repository.engine) as session:
        ids = _filtered_ids(repository, session, filters)
        count = func.count()
        by_province = select(AlliancePlaceRow.value, count).where(
            col(AlliancePlaceRow.kind) == "province"
        )
        if ids is not None:
            by_province = by_province.where(col(AlliancePlaceRow.alliance_id).in_(ids))
        provinces = session.exec(by_province.group_by(col(AlliancePlaceRow.value))).all()
        one = AlliancePlaceRow.__table__.alias("one")  # type: ignore[attr-defined]
        two = AlliancePlaceRow.__table__.alias("two")  # type: ignore[attr-defined]
        pairs = (
            select(one.c.value, two.c.value, count)
            .select_from(one)
            .join(
                two,
                and_(
                    two.c.alliance_id == one.c.alliance_id,
                    two.c.kind == "province",
                    two.c.value > one.c.value,
                ),
            )
            .join(AllianceRow, col(AllianceRow.id) == one.c.alliance_id)
            .where(one.c.kind == "province", col(AllianceRow.cross_province).is_(True))
        )
        if ids is not None:
            pairs = pairs.where(one.c.alliance_id.in_(ids))
        links = session.execute(pairs.group_by(one.c.value, two.c.value)).all()
        total_stmt = select(func.count()).select_from(
            ids.subquery() if ids is not None else AllianceRow
        )
        total = int(session.exec(total_stmt).one())
    return {
        "total": total,
        "provinces": sorted(
            ((str(p), int(n)) for p, n in provinces if p), key=lambda kv: (-kv[1], kv[0])
        ),
        "links": sorted(
            ((str(a), str(b), int(n)) for a, b, n in links), key=lambda x: (-x[2], x[0], x[1])
        ),
    }


def dashboard_timeline(
    repository: RegistryRepository, filters: AllianceFilters
) -> list[tuple[str, str, int]]:
    """(month, type, alliances formed), by event date; alliances dated to a year are left out."""
    with Session(repository.engine) as session:
        ids = _filtered_ids(repository, session, filters)
        month = func.substr(col(AllianceRow.date), 1, 7)
        stmt = select(month, AllianceRow.type, func.count()).where(
            func.length(col(AllianceRow.date)) >= 7
        )
        if ids is not None:
            stmt = stmt.where(col(AllianceRow.id).in_(ids))
        rows = session.exec(stmt.group_by(month, col(AllianceRow.type))).all()
    return sorted((str(m), str(t), int(n)) for m, t, n in rows)


def dashboard_page(
    repository: RegistryRepository,
    filters: AllianceFilters,
    sort: str = "date",
    descending: bool = True,
    offset: int = 0,
    limit: int = 25,
) -> list[AllianceView]:
    """One page of the matching alliances in the order asked for; those without a date or
    specialty come last either way."""
    if sort not in DASHBOARD_SORTS:
        raise ValueError(f"cannot sort by {sort!r}")
    column = {
        "date": col(AllianceRow.date_start),
        "first_seen": col(AllianceRow.first_seen),
        "confidence": col(AllianceRow.confidence),
        "type": col(AllianceRow.type),
        "specialty": col(AllianceRow.specialty),
    }[sort]
    keys: list[Any] = (
        [column.desc(), col(AllianceRow.id).desc()] if descending else [column, col(AllianceRow.id)]
    )
    if sort in ("date", "specialty"):
        if repository.engine.dialect.name == "sqlite":
            # SQLite puts NULLs last when descending, as an index scan gives them.
            if not descending:
                keys.insert(0, column.is_(None))
        else:
            keys[0] = keys[0].nulls_last()
    with Session(repository.engine) as session:
        conditions = repository._conditions(session, filters)
        ids = session.exec(
            select(AllianceRow.id).where(*conditions).order_by(*keys).offset(offset).limit(limit)
        ).all()
        return repository._views(session, list(ids))


def dashboard_count(repository: RegistryRepository, filters: AllianceFilters) -> int:
    """How many alliances match ``filters``."""
    with Session(repository.engine) as session:
        ids = _filtered_ids(repository, session, filters)
        stmt = select(func.count()).select_from(ids.subquery() if ids is not None else AllianceRow)
        return int(session.exec(stmt).one())


def dashboard_facets(
    repository: RegistryRepository, province: str | None = None, limit: int = 300
) -> dict[str, list[tuple[str, int]]]:
    """Values the filters offer: specialties, and cities (of one province, if given)."""
    with Session(repository.engine) as session:
        count = func.count()
        specialties = session.exec(
            select(AllianceRow.specialty, count)
            .where(col(AllianceRow.specialty).is_not(None))
            .group_by(col(AllianceRow.specialty))
            .order_by(count.desc(), col(AllianceRow.specialty))
            .limit(limit)
        ).all()
        cities_stmt = select(InstitutionRow.city, func.count()).where(
            col(InstitutionRow.city).is_not(None)
        )
        short = province_key(province) if province else None
        if short:
            cities_stmt = cities_stmt.where(col(InstitutionRow.province) == short)
        cities = session.exec(
            cities_stmt.group_by(col(InstitutionRow.city))
            .order_by(func.count().desc(), col(InstitutionRow.city))
            .limit(limit)
        ).all()
    return {
        "specialties": [(str(s), int(n)) for s, n in specialties if s],
        "cities": [(str(c), int(n)) for c, n in cities if c],
    }


def registry_signature(repository: RegistryRepository) -> tuple[int, int]:
    """Cheap to read, and different after any committed change to the alliances: how many
    there are, and the newest outbox entry (every write that changes one appends one)."""
    with Session(repository.engine) as session:
        alliances = session.exec(select(func.count()).select_from(AllianceRow)).one()
        newest = session.exec(select(func.max(OutboxRow.id))).one()
    return int(alliances), int(newest or 0)
