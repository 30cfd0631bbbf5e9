"""The registry's write path: extractions and renames, each one transaction (reads are in
``queries.py``, one alliance's stored shape in ``alliance_store.py``).

Every write is one database transaction that also appends the resulting changes to the
outbox, so a change is published if and only if it was committed. Writers are serialised:
in-process by a lock, across replicas by a PostgreSQL advisory lock held for the
transaction, so concurrent consumers cannot found the same alliance twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, text, update
from sqlmodel import Session, col, select

from services.common.contracts import (
    ChangeKind,
    ExtractedArticle,
)
from services.registry.adapters.alliance_store import (
    CommittedChange,
    alliance_document,
    append_outbox,
    write_alliance,
)
from services.registry.adapters.rows import (
    dumps,
    fill_institution,
    record_of,
    report_of,
    row_of,
    utc,
)
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
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
    Report,
    aggregate,
    best_match,
    changed_fields,
    fold_duplicates,
    new_alliance_id,
    normalize_provinces,
    normalize_specialty,
)
from services.registry.domain.institutions import (
    InstitutionRecord,
    match_institution,
    merge_into,
    new_record,
    renamed_record,
    resolve_name,
)
from services.registry.domain.names import clean_name, name_key

_WRITE_LOCK_KEY = 0x72656772  # "regr"
MAX_NAME_LENGTH = 120


def fingerprint(message: ExtractedArticle) -> str:
    """What an extraction says, without when it was made: equal for a replayed message."""
    body = message.model_dump(mode="json", exclude={"extracted_at", "schema_version"})
    return hashlib.sha256(dumps(body).encode()).hexdigest()


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
class ApplyOutcome:
    """What taking in one extraction did."""

    status: str  # "applied", "unchanged" (a replay) or "stale" (an older extraction)
    alliance_ids: tuple[str, ...] = ()
    changes: tuple[CommittedChange, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass
class _Working:
    """Alliances touched by one write, before and after."""

    before: dict[str, AllianceFacts | None] = field(default_factory=dict)
    reports: dict[str, list[Report]] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)


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
                ghosts[row.alliance_id].append(report_of(row))
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
                    new_rows.append(row_of(report, alliance_id))
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
        records = {row.id: record_of(row) for row in rows}
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
            fill_institution(row, record)
            session.add(row)
            self._index_names(session, record, set())
            session.flush()
            return record.id
        merged = merge_into(found, resolved)
        if merged != found:
            row = next(r for r in rows if r.id == found.id)
            fill_institution(row, merged)
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
        reports = [report_of(r) for r in rows]
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
            document = alliance_document(session, facts, reports)
            before = work.before.get(alliance_id)
            if current is not None and before is not None:
                fields = changed_fields(before, facts)
                if not fields and current.document != dumps(document):
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
            write_alliance(session, current, facts, document, now)
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
            append_outbox(session, change, now)
            changes.append(change)
        # Reports of alliances whose facts did not change still have to be stored.
        for report_row in new_rows:
            if session.get(ReportRow, report_row.id) is None:
                session.add(report_row)
        return changes, removed

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
            record = record_of(old)
            targets = [
                record_of(r)
                for r in session.exec(
                    select(InstitutionRow).where(InstitutionRow.key == new_key)
                ).all()
            ]
            target = next((t for t in targets if not t.place.conflicts_with(record.place)), None)
            if target is None:
                renamed = renamed_record(record, new_name)
                fill_institution(old, renamed)
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
            fill_institution(target_row, merged)
            target_row.updated_at = now
            session.add(target_row)
            self._index_names(session, merged, target.keys)
            for alliance_id, reports in work.reports.items():
                work.reports[alliance_id] = [_replace_id(r, old.id, target.id) for r in reports]
            for report_row in session.exec(
                select(ReportRow).where(col(ReportRow.alliance_id).in_(list(work.reports)))
            ).all():
                report_row.lead = dumps(_swap(json.loads(report_row.lead), old.id, target.id))
                report_row.members = dumps(_swap(json.loads(report_row.members), old.id, target.id))
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
        """Move the reports of alliances that turned out to be one (``fold_duplicates``)."""
        for keep, other in fold_duplicates(work.reports):
            work.reports[keep].extend(work.reports[other])
            work.reports[other] = []
            session.exec(  # type: ignore[call-overload]
                update(ReportRow)
                .where(col(ReportRow.alliance_id) == other)
                .values(alliance_id=keep)
            )

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
