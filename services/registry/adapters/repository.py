"""The registry's tables as the write path's use cases (``services.registry.service``) see
them, inside one unit of work: institutions resolved and indexed, reports filed under
alliances, alliances recomputed and written with their outbox entries. Reads are in
``queries.py``; one alliance's stored shape is in ``alliance_store.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, bindparam, delete, insert, update
from sqlmodel import Session, col, select

from services.common.contracts import (
    ChangeKind,
    EventType,
    ExtractedArticle,
    InstitutionMention,
)
from services.common.values import canonical_json as dumps
from services.common.values import utc
from services.registry.adapters.alliance_store import (
    CommittedChange,
    alliance_document,
    alliance_of,
    append_outbox,
    insert_alliance,
    write_alliance,
)
from services.registry.adapters.known_institutions import KnownInstitutions
from services.registry.adapters.rows import (
    ArticleRecord,
    fill_institution,
    in_chunks,
    read,
    record_of,
    report_of,
    report_values,
)
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    ArticleRow,
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
)
from services.registry.domain.institutions import (
    InstitutionRecord,
    ResolvedName,
    candidate_ids,
    match_institution,
    merge_into,
    new_record,
    renamed_record,
    resolve_name,
)
from services.registry.domain.names import clean_name, name_key
from services.registry.domain.review import MAX_NAME_LENGTH, ReviewStatus, apply_corrections

K = TypeVar("K")
V = TypeVar("V")


class Kept(dict[K, V]):
    """What the write path made, kept for every transaction of the process by what it is
    of; it starts over past ``limit`` entries."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, made: V) -> None:
        if len(self) >= self.limit and key not in self:
            self.clear()
        super().__setitem__(key, made)


#: Alliances' latest facts, with the reports and provinces they were made of
#: (``RegistryStore._aggregate``).
_AGGREGATES: Kept[str, tuple[tuple[Report, ...], dict[str, str | None], AllianceFacts]] = Kept(
    limit=50_000
)
#: The reports made of report rows read, by the row's columns: an alliance's reports are
#: read again by each batch that names one of its institutions, and most are as they were.
_REPORTS_READ: Kept[tuple[Any, ...], Report] = Kept(limit=50_000)
#: Alliances' latest summaries, with the reports they were made of (``RegistryStore._summary``,
#: before an analyst's corrections).
_SUMMARIES: Kept[str, tuple[tuple[Report, ...], AllianceSummary]] = Kept(limit=50_000)


@dataclass
class Working:
    """Alliances touched by one write, before and after."""

    before: dict[str, AllianceFacts | None] = field(default_factory=dict)
    reports: dict[str, list[Report]] = field(default_factory=dict)
    #: The alliances loaded that have a row.
    existing: set[str] = field(default_factory=set)
    #: An analyst's corrections of each alliance loaded ({} for none): laid over its facts.
    corrections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: New alliance ids given out by ``place_report``: no row has them yet.
    founded: set[str] = field(default_factory=set)
    #: The rows of the alliances written (None: not stored), read as objects only to be
    #: written (``RegistryStore.commit_alliances``): most alliances loaded are only
    #: matched against. Held here because the session only holds them weakly: asking it
    #: again would read them again.
    rows: dict[str, AllianceRow | None] = field(default_factory=dict)
    #: The reports each alliance had when it was loaded.
    loaded: dict[str, tuple[Report, ...]] = field(default_factory=dict)
    #: Alliances loaded by a batch whose facts as loaded (``before``) are not made yet:
    #: most are only matched against, and as long as none of their provinces changes
    #: (``KnownInstitutions.before_places_change``) their facts stay what they were,
    #: so they are made only for an alliance that changes (``RegistryStore.before``).
    unmade: set[str] = field(default_factory=set)

    def as_loaded(self, alliance_id: str) -> bool:
        """The alliance is stored and has the very reports it was loaded with."""
        reports = self.loaded.get(alliance_id)
        return (
            reports is not None
            and alliance_id in self.existing
            and tuple(self.reports[alliance_id]) == reports
        )


@dataclass
class HeldAlliances:
    """The alliances' rows as a batch of extractions has read and written them, so that
    a later message of the batch asks the tables again only about what no earlier one
    did. Each write of the batch's messages updates it as it updates the tables; the
    other writers (renames, reviews) run in units of work of their own, without it."""

    #: each alliance's stored reports
    reports: dict[str, list[Report]] = field(default_factory=dict)
    #: each alliance's row (None: no row), held so the session keeps the very object
    rows: dict[str, AllianceRow | None] = field(default_factory=dict)
    #: each alliance's corrections column (None: no row), read with its reports
    corrections: dict[str, str | None] = field(default_factory=dict)
    #: whether an alliance of this id is stored (the ids new alliances would take)
    exists: dict[str, bool] = field(default_factory=dict)
    #: the highest revision the outbox has of each alliance (0: none)
    revisions: dict[str, int] = field(default_factory=dict)
    #: the alliances linked to each institution asked about, by alliance_institutions
    linked: dict[str, set[str]] = field(default_factory=dict)
    #: the same links by alliance (of the institutions in ``linked`` only)
    links_of: dict[str, set[str]] = field(default_factory=dict)

    def link(self, alliance_id: str, institution_ids: Iterable[str]) -> None:
        """The alliance is now linked to these institutions and no others."""
        for ident in self.links_of.pop(alliance_id, ()):
            self.linked[ident].discard(alliance_id)
        known = {i for i in institution_ids if i in self.linked}
        for ident in known:
            self.linked[ident].add(alliance_id)
        if known:
            self.links_of[alliance_id] = known


#: A report row's columns, selected without making ORM objects of them (``report_of``).
_REPORT_COLUMNS = tuple(col(getattr(ReportRow, name)) for name in ReportRow.model_fields)

# The statements the write path runs for every report, built once: building and keying a
# statement costs more than SQLite takes to run it.
_ARTICLE_COLUMNS = tuple(col(getattr(ArticleRow, name)) for name in ArticleRow.model_fields)
_ARTICLES = select(*_ARTICLE_COLUMNS).where(
    col(ArticleRow.article_id).in_(bindparam("ids", expanding=True))
)
_INSERT_ARTICLE = insert(ArticleRow)
#: Sets the columns its parameters name.
_UPDATE_ARTICLE = update(ArticleRow).where(col(ArticleRow.article_id) == bindparam("the_article"))
_REPORTS_OF_ARTICLE = select(*_REPORT_COLUMNS).where(
    col(ReportRow.article_id) == bindparam("article_id")
)
_REPORTS_OF_ALLIANCES = select(*_REPORT_COLUMNS).where(
    col(ReportRow.alliance_id).in_(bindparam("ids", expanding=True))
)
_ALLIANCES = select(AllianceRow).where(col(AllianceRow.id).in_(bindparam("ids", expanding=True)))
_CORRECTIONS = select(col(AllianceRow.id), col(AllianceRow.corrections)).where(
    col(AllianceRow.id).in_(bindparam("ids", expanding=True))
)
_LINKED_ALLIANCES = (
    select(AllianceInstitutionRow.alliance_id)
    .where(col(AllianceInstitutionRow.institution_id).in_(bindparam("ids", expanding=True)))
    .distinct()
)
_LINKS = select(
    col(AllianceInstitutionRow.institution_id), col(AllianceInstitutionRow.alliance_id)
).where(col(AllianceInstitutionRow.institution_id).in_(bindparam("ids", expanding=True)))
_ALLIANCE_IDS = select(AllianceRow.id).where(
    col(AllianceRow.id).in_(bindparam("ids", expanding=True))
)
_INSERT_REPORTS = insert(ReportRow)
_DELETE_REPORTS_OF_ARTICLE = delete(ReportRow).where(col(ReportRow.article_id) == bindparam("id"))
_DELETE_REPORTS_OF_ALLIANCE = delete(ReportRow).where(col(ReportRow.alliance_id) == bindparam("id"))
#: Every rename rule, read at the start of each batch.
_RENAMES = select(col(RenameRow.old_key), col(RenameRow.new_name))
_CHANGE_IDS_OF_ALLIANCES = select(OutboxRow.alliance_id, OutboxRow.change_id).where(
    col(OutboxRow.alliance_id).in_(bindparam("ids", expanding=True))
)


class RegistryStore:
    """The registry's tables as one transaction sees them: institutions resolved and
    indexed, reports filed under alliances, alliances recomputed and written with their
    outbox entries. The use cases in ``services.registry.service`` drive it; the unit of
    work owns its session and commits it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.institutions = KnownInstitutions(session)
        #: articles asked about (None: not in the table), so that a batch reads each once
        self._articles: dict[str, ArticleRecord | None] = {}
        #: mentions resolved under ``_names_under`` (the rename table they were read with)
        self._names: dict[InstitutionMention, ResolvedName] = {}
        self._names_under: Mapping[str, str] | None = None
        #: Each alliance's latest ``aggregate``, with the reports and institution provinces
        #: it was made of: loading, matching and committing an alliance each need its
        #: facts, mostly of the same reports (again for each message, and each batch, that
        #: names it), and aggregating is the write path's costliest step. Shared by every
        #: transaction of the process: an entry is used only for the very reports and
        #: provinces it was made of, so what another transaction or replica changed since
        #: is aggregated afresh.
        self._aggregates = _AGGREGATES
        #: Each alliance's latest summary for matching (``AllianceSummary.of`` its reports,
        #: a function of them alone), shared in the same way: every message naming one of
        #: its institutions matches its report against it.
        self._summaries = _SUMMARIES
        #: The same facts as this transaction last made them, with the
        #: ``KnownInstitutions.places_revision`` they were made at: while no province
        #: changed, the very reports give them without asking for their provinces again
        #: (an alliance is asked for its facts when loaded and when committed, for each
        #: message that names one of its institutions).
        self._facts_made: dict[str, tuple[tuple[Report, ...], int, AllianceFacts]] = {}
        #: Set by ``hold_alliances`` for a batch of extractions.
        self._held: HeldAlliances | None = None
        #: The write whose alliances' facts before may be ``Working.unmade``: made before
        #: a province changes, which would change them.
        self._lazy: Working | None = None
        self.institutions.before_places_change = self.make_befores

    def hold_alliances(self) -> None:
        """Keep what the alliances' tables were read and written to hold for the rest of
        the transaction (``HeldAlliances``): only the batch of extractions, whose every
        write goes through this store's write path, may."""
        self._held = HeldAlliances()

    def expect_founding(self, alliance_ids: Iterable[str]) -> None:
        """Look up, with a SELECT each for all of them, whether these alliances (those the
        batch's events would found, ``founding_id``) are stored, and their last revisions
        in the outbox: founding an alliance asks both."""
        ids = list(alliance_ids)
        self._learn_existence(ids)
        self.last_revisions(ids)

    # --- articles and their reports ----------------------------------------------------

    def article(self, article_id: str) -> ArticleRecord | None:
        return self.articles_of([article_id]).get(article_id)

    def articles_of(self, article_ids: Iterable[str]) -> dict[str, ArticleRecord]:
        """The articles of these ids that are known; those not asked about before are read
        together (a SELECT per thousand)."""
        wanted = list(dict.fromkeys(article_ids))
        missing = [i for i in wanted if i not in self._articles]
        for chunk in in_chunks(missing):
            rows = read(self.session, _ARTICLES, {"ids": chunk})
            found = {row.article_id: ArticleRecord(*row) for row in rows}
            for article_id in chunk:
                self._articles[article_id] = found.get(article_id)
        return {i: a for i in wanted if (a := self._articles[i]) is not None}

    def record_article(self, message: ExtractedArticle, digest: str, now: datetime) -> datetime:
        """Keep what the article's latest extraction was; returns when it was first seen."""
        kept = self.article(message.article_id)
        article = ArticleRecord(
            article_id=message.article_id,
            extractor_version=message.extractor_version,
            extracted_at=utc(message.extracted_at),
            fingerprint=digest,
            relevant=message.relevant,
            event_count=len(message.events),
            url=message.url,
            title=message.title,
            published_at=message.published_at,
            first_received_at=kept.first_received_at if kept is not None else now,
            updated_at=now,
        )
        connection = self.session.connection()
        if kept is None:
            connection.execute(_INSERT_ARTICLE, _article_columns(article))
        else:
            changes = _article_columns(article)
            del changes["article_id"], changes["first_received_at"]
            connection.execute(_UPDATE_ARTICLE, {"the_article": article.article_id, **changes})
        self._articles[article.article_id] = article
        return utc(article.first_received_at)

    def withdraw_reports(self, article_id: str, work: Working) -> dict[str, list[Report]]:
        """Take the article's earlier reports out of their alliances (a newer extraction
        replaces them); returns them by alliance, so a report can find its old alliance."""
        ghosts: dict[str, list[Report]] = defaultdict(list)
        rows = read(self.session, _REPORTS_OF_ARTICLE, {"article_id": article_id})
        self.load_alliances(work, [row.alliance_id for row in rows])
        for row in rows:
            ghosts[row.alliance_id].append(report_of(row))
        held = self._held
        if rows and held is None:
            self.session.exec(  # type: ignore[call-overload]
                delete(ReportRow).where(col(ReportRow.article_id) == article_id)
            )
        elif rows and held is not None:
            # A batch never loads report rows as objects: none in the session to update.
            self.session.flush()  # as the ORM's DELETE would first
            self.session.connection().execute(_DELETE_REPORTS_OF_ARTICLE, {"id": article_id})
            for alliance_id in {row.alliance_id for row in rows}:
                held.reports[alliance_id] = [
                    r for r in held.reports[alliance_id] if r.article_id != article_id
                ]
        for alliance_id in list(work.reports):
            work.reports[alliance_id] = [
                r for r in work.reports[alliance_id] if r.article_id != article_id
            ]
        return ghosts

    # --- rename rules -------------------------------------------------------------------

    def rename_rule(self, old_key: str) -> RenameRow | None:
        return self.session.exec(select(RenameRow).where(RenameRow.old_key == old_key)).first()

    def rename_rule_by_id(self, rename_id: int) -> RenameRow | None:
        return self.session.get(RenameRow, rename_id)

    def save_rule(self, rule: RenameRow) -> None:
        self.session.add(rule)
        self.session.flush()

    def delete_rule(self, rule: RenameRow) -> None:
        self.session.delete(rule)

    # --- institutions and alliances -------------------------------------------------------

    def resolve_all(
        self,
        mentions: Iterable[InstitutionMention],
        renames: Mapping[str, str],
        now: datetime,
    ) -> list[str]:
        ids: list[str] = []
        for mention in mentions:
            if len(clean_name(mention.name)) > MAX_NAME_LENGTH:
                continue
            ident = self.resolve(mention, renames, now)
            if ident and ident not in ids:
                ids.append(ident)
        return ids

    def expect_mentions(
        self, mentions: Iterable[InstitutionMention], renames: Mapping[str, str]
    ) -> None:
        """Read every institution these mentions could be, with one SELECT: a batch then
        resolves its mentions from memory instead of with a SELECT each."""
        keys: set[str] = set()
        names: list[ResolvedName] = []
        for mention in mentions:
            resolved = self._resolved_name(mention, renames)
            if resolved.key:
                keys |= {resolved.key, *resolved.alias_keys}
                names.append(resolved)
        known = self.institutions.named(keys)
        # The ids a name no institution has yet could take (``_ids_taken``): most are free.
        wanted: set[str] = set()
        for resolved in dict.fromkeys(names):
            candidates = self.institutions.named({resolved.key, *resolved.alias_keys})
            if match_institution(resolved, candidates) is None:
                wanted.update(itertools.islice(candidate_ids(resolved), 4))
        self.institutions.by_ids(wanted)
        held = self._held
        if held is None:
            return
        # The alliances these institutions are in, with their reports and corrections,
        # each read with one SELECT for the batch, not one per message. Not their sources
        # nor their institutions: only those of the alliances a message changes are
        # needed (``Working.unmade``), and ``commit_alliances`` reads them.
        self._learn_links(record.id for record in known)
        self._stored(sorted({a for record in known for a in held.linked[record.id]}))

    def _resolved_name(
        self, mention: InstitutionMention, renames: Mapping[str, str]
    ) -> ResolvedName:
        if renames is not self._names_under:
            self._names, self._names_under = {}, renames
        resolved = self._names.get(mention)
        if resolved is None:
            resolved = self._names[mention] = resolve_name(mention, renames)
        return resolved

    def resolve(
        self, mention: InstitutionMention, renames: Mapping[str, str], now: datetime
    ) -> str | None:
        resolved = self._resolved_name(mention, renames)
        if not resolved.key:
            return None
        candidates = self.institutions.named({resolved.key, *resolved.alias_keys})
        found = match_institution(resolved, candidates)
        if found is None:
            record = new_record(resolved, self._ids_taken(resolved))
            self.institutions.add(record, now)
            if self._held is not None:
                self._held.linked[record.id] = set()  # a new institution is in no alliance
            return record.id
        merged = merge_into(found, resolved)
        if merged != found:
            self.institutions.replace(found, merged, now)
        return found.id

    def _ids_taken(self, resolved: ResolvedName) -> set[str]:
        """Which of the name's ``candidate_ids`` institutions already have (the same name
        and county, in places that conflict), up to the first free one: looked up by
        primary key, a few at a time, rather than with a LIKE that scans the table."""
        candidates = candidate_ids(resolved)
        taken: set[str] = set()
        while True:
            wanted = list(itertools.islice(candidates, 4))
            found = self.institutions.by_ids(wanted)
            taken.update(found)
            if len(found) < len(wanted):
                return taken

    def index_names(self, record: InstitutionRecord, known: Iterable[str]) -> None:
        self.institutions.index_names(record, known)

    def renames(self) -> dict[str, str]:
        return {old_key: new_name for old_key, new_name in read(self.session, _RENAMES, {})}

    def load_alliance(self, work: Working, alliance_id: str) -> None:
        self.load_alliances(work, [alliance_id])

    def load_alliances(self, work: Working, alliance_ids: Iterable[str]) -> None:
        """Load into ``work`` those of the alliances it has not loaded yet, in order: their
        reports, corrections and institutions with a SELECT each for all of them, not each."""
        wanted = [a for a in dict.fromkeys(alliance_ids) if a not in work.reports]
        if not wanted:
            return
        reports, corrections = self._stored(wanted)
        lazy = self._held is not None  # only a batch's writes all go through this store
        if not lazy:
            # Each id of each role, not ``Report.institutions``, which builds two sets a
            # report: their provinces are asked for below.
            self.institutions.by_ids(
                i
                for rs in reports.values()
                for r in rs
                for role in (r.lead, r.members)
                for i in role
            )
        for alliance_id in wanted:
            work.reports[alliance_id] = reports[alliance_id]
            work.loaded[alliance_id] = tuple(reports[alliance_id])
            fixes = corrections[alliance_id]
            if fixes is not None:
                work.existing.add(alliance_id)
            # Most alliances have none: "{}", not worth parsing once per message.
            work.corrections[alliance_id] = json.loads(fixes) if fixes not in (None, "{}") else {}
            if not reports[alliance_id]:
                work.before[alliance_id] = None
            elif lazy:
                work.unmade.add(alliance_id)
            else:
                work.before[alliance_id] = self.facts_of(work, alliance_id, reports[alliance_id])
        if lazy:
            self._lazy = work

    def before(self, work: Working, alliance_id: str) -> AllianceFacts | None:
        """The alliance's facts as it was loaded (None: it had no reports, or was new)."""
        if alliance_id in work.unmade:
            work.before[alliance_id] = self.facts_of(work, alliance_id, work.loaded[alliance_id])
            work.unmade.discard(alliance_id)
        return work.before.get(alliance_id)

    def make_befores(self) -> None:
        """Make the facts as loaded of every alliance whose are not made yet, while the
        provinces are still what they were then."""
        work = self._lazy
        if work is None or not work.unmade:
            return
        self.institutions.by_ids(
            i
            for alliance_id in work.unmade
            for r in work.loaded[alliance_id]
            for role in (r.lead, r.members)
            for i in role
        )
        for alliance_id in sorted(work.unmade):
            self.before(work, alliance_id)

    def _stored(
        self, alliance_ids: Sequence[str]
    ) -> tuple[dict[str, list[Report]], dict[str, str | None]]:
        """The alliances' stored reports (each list the caller's own) and corrections
        columns (None: no row), read with a SELECT each for those ``HeldAlliances`` does
        not hold. Not their rows: an ORM object costs more to make than the rest of an
        alliance, and most alliances loaded are only matched against."""
        held = self._held
        unread_reports = [a for a in alliance_ids if held is None or a not in held.reports]
        unread_rows = [a for a in alliance_ids if held is None or a not in held.corrections]
        reports: dict[str, list[Report]] = {a: [] for a in unread_reports}
        corrections: dict[str, str | None] = dict.fromkeys(unread_rows)
        for chunk in in_chunks(unread_reports):
            for report_row in read(self.session, _REPORTS_OF_ALLIANCES, {"ids": chunk}):
                reports[report_row.alliance_id].append(_report_read(report_row))
        for chunk in in_chunks(unread_rows):
            corrections.update(read(self.session, _CORRECTIONS, {"ids": chunk}))
        if held is None:
            return reports, corrections
        for alliance_id, fixes in corrections.items():
            held.corrections[alliance_id] = fixes
            held.exists[alliance_id] = fixes is not None
        held.reports.update(reports)
        return (
            {a: list(held.reports[a]) for a in alliance_ids},
            {a: held.corrections[a] for a in alliance_ids},
        )

    def _read_rows(self, work: Working, alliance_ids: Iterable[str]) -> None:
        """Read into ``work.rows`` the rows of these alliances (to be written), with a
        SELECT for those ``HeldAlliances`` does not hold as objects."""
        held = self._held
        wanted = [a for a in dict.fromkeys(alliance_ids) if a not in work.rows]
        unread = [a for a in wanted if held is None or a not in held.rows]
        rows: dict[str, AllianceRow | None] = dict.fromkeys(unread)
        for chunk in in_chunks(unread):
            rows.update((r.id, r) for r in self.session.exec(_ALLIANCES, params={"ids": chunk}))
        if held is not None:
            held.rows.update(rows)
            rows = {a: held.rows[a] for a in wanted}
        work.rows.update(rows)

    def _learn_links(self, institution_ids: Iterable[str]) -> None:
        """Read into ``HeldAlliances.linked`` the alliances of the institutions it has not
        asked about yet."""
        held = self._held
        assert held is not None
        missing = [i for i in dict.fromkeys(institution_ids) if i not in held.linked]
        for chunk in in_chunks(missing):
            rows = read(self.session, _LINKS, {"ids": chunk})
            for ident in chunk:
                held.linked[ident] = set()
            for ident, alliance_id in rows:
                held.linked[ident].add(alliance_id)
                held.links_of.setdefault(alliance_id, set()).add(ident)

    def _linked_alliances(self, institution_ids: Sequence[str]) -> list[str]:
        """The alliances any of these institutions is linked to (alliance_institutions)."""
        held = self._held
        if held is None:
            ids = {"ids": list(institution_ids)}
            return [alliance_id for (alliance_id,) in read(self.session, _LINKED_ALLIANCES, ids)]
        self._learn_links(institution_ids)
        return sorted({a for i in institution_ids for a in held.linked[i]})

    def _learn_existence(self, alliance_ids: Iterable[str]) -> None:
        """Read into ``HeldAlliances.exists`` whether these alliances are stored."""
        held = self._held
        assert held is not None
        missing = [a for a in dict.fromkeys(alliance_ids) if a not in held.exists]
        for chunk in in_chunks(missing):
            found = {ident for (ident,) in read(self.session, _ALLIANCE_IDS, {"ids": chunk})}
            held.exists.update((a, a in found) for a in chunk)

    def facts_of(self, work: Working, alliance_id: str, reports: Sequence[Report]) -> AllianceFacts:
        """The alliance's facts from its reports, with an analyst's corrections laid over:
        a locked field never takes what the reports say."""
        facts = self._aggregate(work, alliance_id, reports)
        corrections = work.corrections.get(alliance_id) or {}
        if not corrections:
            return facts
        corrected = [*corrections.get("lead", ()), *corrections.get("members", ())]
        provinces = self.provinces_of_ids(corrected)
        return apply_corrections(facts, corrections, provinces)

    def _aggregate(
        self, work: Working, alliance_id: str, reports: Sequence[Report]
    ) -> AllianceFacts:
        """``aggregate`` of the reports with their institutions' provinces, made again only
        when either differs from the alliance's last (it is a function of both alone)."""
        basis = tuple(reports)
        places = self.institutions.places_revision
        made = self._facts_made.get(alliance_id)
        if made is not None and made[1] == places and made[0] == basis:
            return made[2]
        provinces = self.provinces_of(basis)
        kept = self._aggregates.get(alliance_id)
        if kept is not None and kept[0] == basis and kept[1] == provinces:
            facts = kept[2]
        else:
            facts = aggregate(basis, provinces)
            self._aggregates[alliance_id] = (basis, provinces, facts)
        self._facts_made[alliance_id] = (basis, places, facts)
        return facts

    def place_report(
        self,
        work: Working,
        ghosts: Mapping[str, list[Report]],
        report: Report,
        extractor_version: str,
    ) -> str:
        """The alliance a report belongs to: an existing one, or a new id."""
        self.load_alliances(work, self._linked_alliances(list(report.institutions)))
        summaries = []
        for alliance_id, reports in work.reports.items():
            # What the article said before counts too: a re-extraction goes back where its
            # earlier report was filed, even after an analyst moved that one (a merge).
            basis = [*reports, *ghosts.get(alliance_id, [])]
            if basis:
                summaries.append(self._summary(work, alliance_id, basis))
        found = best_match(report, summaries)
        if found is not None:
            return found
        alliance_id = new_alliance_id(report, extractor_version)
        while alliance_id in work.reports or self._alliance_exists(alliance_id):
            alliance_id = "a" + hashlib.sha256(alliance_id.encode()).hexdigest()[:15]
        work.reports[alliance_id] = []
        work.before[alliance_id] = None
        work.founded.add(alliance_id)
        return alliance_id

    def _alliance_exists(self, alliance_id: str) -> bool:
        if self._held is None:
            return bool(read(self.session, _ALLIANCE_IDS, {"ids": [alliance_id]}))
        self._learn_existence([alliance_id])
        return self._held.exists[alliance_id]

    def _summary(
        self, work: Working, alliance_id: str, reports: Sequence[Report]
    ) -> AllianceSummary:
        """What identity matching knows of an alliance: a report naming the institutions
        an analyst corrected it to is about it too."""
        basis = tuple(reports)
        made = self._summaries.get(alliance_id)
        if made is not None and made[0] == basis:
            summary = made[1]
        else:
            kept = self._aggregates.get(alliance_id)
            # The lead and members of the alliance's facts, when made of these very reports:
            # provinces, which they may have been aggregated with, do not bear on them.
            known = kept[2] if kept is not None and kept[0] == basis else None
            summary = AllianceSummary.of(alliance_id, basis, known)
            self._summaries[alliance_id] = (basis, summary)
        fixes = work.corrections.get(alliance_id) or {}
        if not fixes:
            return summary
        return replace(
            summary,
            types=summary.types | ({EventType(fixes["type"])} if "type" in fixes else set()),
            specialties=summary.specialties
            | ({fixes["specialty"]} if fixes.get("specialty") else set()),
            # Every institution the reports name still identifies the alliance, whatever
            # role the analyst gave it (as ``apply_corrections`` places them).
            lead=frozenset(fixes.get("lead", summary.lead)),
            members=frozenset(fixes.get("members", summary.members | summary.lead))
            - frozenset(fixes.get("lead", ())),
        )

    def provinces_of(self, reports: Sequence[Report]) -> dict[str, str | None]:
        return self.provinces_of_ids(
            {i for r in reports for role in (r.lead, r.members) for i in role}
        )

    def provinces_of_ids(self, ids: Iterable[str]) -> dict[str, str | None]:
        return self.institutions.provinces(ids)

    def commit_alliances(
        self, work: Working, now: datetime, filed: Sequence[tuple[str, Report]]
    ) -> tuple[list[CommittedChange], list[str]]:
        changes: list[CommittedChange] = []
        removed: list[str] = []
        pending_rows = {alliance_id for alliance_id, _ in filed}
        held = self._held
        with_reports: set[str] = set()  # alliances whose new reports are stored
        earlier = self.last_revisions(work.founded)
        # An alliance only loaded to be matched against, with its reports and facts as
        # they were, has nothing to write: not even its document, which is made of them
        # and of its articles (an article read again withdraws its reports, which is a
        # change of reports).
        # One whose facts as loaded are not made yet has the facts it had: the same
        # reports, corrections and provinces (``Working.unmade``).
        unchanged = {
            alliance_id
            for alliance_id in work.reports
            if alliance_id not in pending_rows
            and work.as_loaded(alliance_id)
            and (
                alliance_id in work.unmade
                or self.facts_of(work, alliance_id, work.reports[alliance_id])
                == work.before.get(alliance_id)
            )
        }
        # Their sources, and the rows of those loaded, with one SELECT each for all of
        # them rather than one each.
        self.articles_of(
            r.article_id
            for alliance_id, reports in work.reports.items()
            if alliance_id not in unchanged
            for r in reports
        )
        self._read_rows(work, (a for a in work.existing if a not in unchanged))
        # And their institutions, as they are and as they were loaded.
        self.institutions.by_ids(
            i
            for alliance_id, reports in work.reports.items()
            if alliance_id not in unchanged
            for r in (*reports, *work.loaded.get(alliance_id, ()))
            for role in (r.lead, r.members)
            for i in role
        )
        for alliance_id in sorted(work.reports, key=lambda a: (a not in pending_rows, a)):
            if alliance_id in unchanged:
                continue
            reports = work.reports[alliance_id]
            if alliance_id in work.rows:
                current = work.rows[alliance_id]
            elif alliance_id in work.founded or alliance_id in work.loaded:
                current = None  # given out new, or loaded without a row
            else:
                current = self.session.get(AllianceRow, alliance_id)
            if not reports:
                if current is not None and current.review_status != ReviewStatus.unreviewed:
                    # An analyst's verdict outlives the reports it was given on: the
                    # record stays as it was rather than vanish with its review.
                    continue
                if current is not None:
                    if held is None:
                        self.session.exec(  # type: ignore[call-overload]
                            delete(ReportRow).where(col(ReportRow.alliance_id) == alliance_id)
                        )
                    else:
                        self.session.flush()  # as the ORM's DELETE would first
                        connection = self.session.connection()
                        connection.execute(_DELETE_REPORTS_OF_ALLIANCE, {"id": alliance_id})
                    self.session.delete(current)
                    removed.append(alliance_id)
                    if held is not None:
                        # Its institution and place rows go with it (ON DELETE CASCADE).
                        held.reports[alliance_id] = []
                        held.rows[alliance_id] = None
                        held.corrections[alliance_id] = None
                        held.exists[alliance_id] = False
                        held.link(alliance_id, ())
                continue
            facts = self.facts_of(work, alliance_id, reports)
            document = alliance_document(self.articles_of(facts.article_ids), facts, reports)
            stored = dumps(document)
            before = self.before(work, alliance_id)
            if current is not None and before is not None:
                fields = changed_fields(before, facts)
                if not fields and current.document != stored:
                    fields = ("sources",)
                if not fields:
                    continue
                kind = ChangeKind.updated
            else:
                fields = changed_fields(None, facts)
                kind = ChangeKind.created if current is None else ChangeKind.updated
            institutions = self.institutions.by_ids([*facts.lead, *facts.members])
            if current is None:
                # An alliance founded again after losing every report goes on from its
                # earlier change ids (notify drops a change id it has seen).
                revision = insert_alliance(
                    self.session,
                    alliance_id,
                    earlier.get(alliance_id, 0),
                    facts,
                    stored,
                    institutions,
                    now,
                )
                rejected = False  # a new row is not reviewed
                if held is not None:
                    # Stored without an object: a later message reads its row. It has no
                    # reports yet (they need the row), only those filed below.
                    held.rows.pop(alliance_id, None)
                    held.corrections[alliance_id] = "{}"  # AllianceRow's: none yet
                    held.reports[alliance_id] = []
                    held.exists[alliance_id] = True
            else:
                write_alliance(
                    self.session, current, facts, stored, institutions, now, held is None
                )
                revision = current.revision
                rejected = current.review_status == ReviewStatus.rejected
            if held is not None:
                held.link(alliance_id, [*facts.lead, *facts.members])
            self._file_reports([(a, r) for a, r in filed if a == alliance_id])
            with_reports.add(alliance_id)
            if rejected:
                # Rejected stays rejected: bureaus were told it does not stand, and more
                # reports of it are no news to them.
                continue
            change = CommittedChange(
                change_id=f"{alliance_id}-r{revision}",
                alliance_id=alliance_id,
                kind=kind,
                changed_fields=fields,
            )
            alliance = alliance_of(alliance_id, facts, document, institutions)
            append_outbox(self.session, change, alliance, now)
            changes.append(change)
            if held is not None and alliance_id in held.revisions:
                held.revisions[alliance_id] = max(held.revisions[alliance_id], revision)
        # Reports of alliances whose facts did not change still have to be stored.
        self._file_reports([(a, r) for a, r in filed if a not in with_reports])
        if self._lazy is work:
            self._lazy = None  # done: what its alliances were is no longer asked
        return changes, removed

    def last_revisions(self, alliance_ids: Iterable[str]) -> dict[str, int]:
        """The highest revision each alliance's changes in the outbox carry, for those that
        have any (an alliance founded before, whose row went with its last report)."""
        held = self._held
        wanted = sorted(alliance_ids)
        unread = [a for a in wanted if held is None or a not in held.revisions]
        last: dict[str, int] = {}
        for chunk in in_chunks(unread):
            for alliance_id, change_id in self.session.connection().execute(
                _CHANGE_IDS_OF_ALLIANCES, {"ids": chunk}
            ):
                revision = int(change_id.rsplit("-r", 1)[1])
                last[alliance_id] = max(last.get(alliance_id, 0), revision)
        if held is None:
            return last
        held.revisions.update((a, last.get(a, 0)) for a in unread)
        return {a: held.revisions[a] for a in wanted if held.revisions[a]}

    def _file_reports(self, filed: Sequence[tuple[str, Report]]) -> None:
        """Store new reports under their alliances (whose rows are stored already)."""
        if filed:
            self.session.connection().execute(
                _INSERT_REPORTS, [report_values(r, alliance_id) for alliance_id, r in filed]
            )
        if self._held is not None:
            for alliance_id, report in filed:
                if alliance_id in self._held.reports:
                    self._held.reports[alliance_id].append(report)

    def fold_renamed(self, old_key: str, new_name: str, now: datetime) -> None:
        olds = self.session.exec(select(InstitutionRow).where(InstitutionRow.key == old_key)).all()
        if not olds:
            return
        work = Working()
        new_key = name_key(new_name)
        for old in olds:
            links = self.session.exec(
                select(AllianceInstitutionRow.alliance_id).where(
                    AllianceInstitutionRow.institution_id == old.id
                )
            ).all()
            for alliance_id in links:
                self.load_alliance(work, alliance_id)
            record = record_of(old)
            targets = [
                record_of(r)
                for r in self.session.exec(
                    select(InstitutionRow).where(InstitutionRow.key == new_key)
                ).all()
            ]
            target = next((t for t in targets if not t.place.conflicts_with(record.place)), None)
            if target is None:
                renamed = renamed_record(record, new_name)
                fill_institution(old, renamed)
                old.updated_at = now
                self.session.add(old)
                self.index_names(renamed, record.keys)
                self.institutions.forget()  # changed through the ORM, not through it
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
            for alliance_id in self.session.exec(
                select(AllianceInstitutionRow.alliance_id).where(
                    AllianceInstitutionRow.institution_id == target.id
                )
            ).all():
                self.load_alliance(work, alliance_id)
            target_row = self.session.get(InstitutionRow, target.id)
            assert target_row is not None
            fill_institution(target_row, merged)
            target_row.updated_at = now
            self.session.add(target_row)
            self.index_names(merged, target.keys)
            for alliance_id, reports in work.reports.items():
                work.reports[alliance_id] = [_replace_id(r, old.id, target.id) for r in reports]
            for report_row in self.session.exec(
                select(ReportRow).where(col(ReportRow.alliance_id).in_(list(work.reports)))
            ).all():
                report_row.lead = dumps(_swap(json.loads(report_row.lead), old.id, target.id))
                report_row.members = dumps(_swap(json.loads(report_row.members), old.id, target.id))
                self.session.add(report_row)
            self._swap_corrected(work, old.id, target.id)
            self.session.exec(  # type: ignore[call-overload]
                delete(AllianceInstitutionRow).where(
                    col(AllianceInstitutionRow.institution_id) == old.id
                )
            )
            self.session.flush()
            self.session.delete(old)
            self.institutions.forget()  # changed through the ORM, not through it
        self.session.flush()
        self.merge_duplicates(work)
        self.commit_alliances(work, now, [])

    def _swap_corrected(self, work: Working, old: str, new: str) -> None:
        """An analyst's corrections name institutions by id: the folded one's id becomes
        the id it was folded into, as in the reports."""
        for alliance_id, fixes in work.corrections.items():
            roles = [r for r in ("lead", "members") if old in fixes.get(r, ())]
            if not roles:
                continue
            fixes = {**fixes, **{r: _swap(list(fixes[r]), old, new) for r in roles}}
            if "lead" in fixes and "members" in fixes:
                fixes["members"] = [i for i in fixes["members"] if i not in fixes["lead"]]
            work.corrections[alliance_id] = fixes
            row = self.session.get(AllianceRow, alliance_id)
            if row is not None:
                row.corrections = dumps(fixes)
                self.session.add(row)

    def merge_duplicates(self, work: Working) -> None:
        """Move the reports of alliances that turned out to be one (``fold_duplicates``)."""
        for keep, other in fold_duplicates(work.reports):
            work.reports[keep].extend(work.reports[other])
            work.reports[other] = []
            self.session.exec(  # type: ignore[call-overload]
                update(ReportRow)
                .where(col(ReportRow.alliance_id) == other)
                .values(alliance_id=keep)
            )
            row = self.session.get(AllianceRow, other)
            if row is not None and row.review_status != ReviewStatus.unreviewed:
                # A reviewed alliance is kept with its review (see commit_alliances): as an
                # analyst's merge would, it now points at the one it turned out to be.
                row.merged_into = keep
                self.session.add(row)
                for table in (AllianceInstitutionRow, AlliancePlaceRow):
                    self.session.exec(  # type: ignore[call-overload]
                        delete(table).where(col(table.alliance_id) == other)
                    )


def _report_read(row: Row[Any]) -> Report:
    """``report_of`` the row, made once for the same columns (``_REPORTS_READ``)."""
    columns = tuple(row)
    report = _REPORTS_READ.get(columns)
    if report is None:
        report = _REPORTS_READ[columns] = report_of(row)
    return report


def _article_columns(article: ArticleRecord) -> dict[str, Any]:
    """The record's fields by name, as ``asdict`` gives them without deep-copying each
    value: all of them are immutable."""
    return dict(vars(article))


def _swap(ids: list[str], old: str, new: str) -> list[str]:
    return list(dict.fromkeys(new if i == old else i for i in ids))


def _replace_id(report: Report, old: str, new: str) -> Report:
    lead = tuple(_swap(list(report.lead), old, new))
    members = tuple(i for i in _swap(list(report.members), old, new) if i not in lead)
    return replace(report, lead=lead, members=members)
