"""The registry's read model: alliances, institutions, articles and statistics as the API
shows them. Nothing here writes; the write path is ``repository.py``."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_
from sqlmodel import Session, col, select

from services.common.contracts import Alliance, AllianceSource, EventType, Institution
from services.common.places import city_key, county_key, province_key
from services.common.values import canonical_json as dumps
from services.common.values import utc
from services.registry.adapters.rows import institution_of
from services.registry.adapters.tables import (
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    AnalystRow,
    ArticleRow,
    InstitutionNameRow,
    InstitutionRow,
    OutboxRow,
    RenameRow,
    ReportRow,
    ReviewActionRow,
)
from services.registry.domain.alliances import Alternative, normalize_specialty
from services.registry.domain.names import clean_name, name_key
from services.registry.domain.review import LOCKABLE_FIELDS, ReviewStatus


@dataclass(frozen=True)
class ReviewInfo:
    """An alliance's review state as the API shows it (``domain/review.py``)."""

    status: str = "unreviewed"
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    reviewed_by_name: str | None = None
    locked_fields: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        """The ``review`` block of the alliance's JSON."""
        return {
            "status": self.status,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "reviewed_by_name": self.reviewed_by_name,
            "locked_fields": list(self.locked_fields),
        }


@dataclass(frozen=True)
class AllianceView:
    alliance: Alliance
    alternatives: Mapping[str, tuple[Alternative, ...]]
    revision: int
    review: ReviewInfo = ReviewInfo()
    #: the survivor an analyst merged this alliance into (it answers with a redirect)
    merged_into: str | None = None

    def snapshot(self) -> dict[str, Any]:
        """The alliance's public JSON with its review block: what the audit trail keeps."""
        return {
            **self.alliance.model_dump(mode="json"),
            "review": self.review.public(),
            "merged_into": self.merged_into,
        }


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
    #: rejected alliances are left out of lists, exports, stats and the dashboard unless
    #: asked for; alliances merged into another are always left out
    include_rejected: bool = False


class CursorError(ValueError):
    """A pagination cursor that this API did not hand out."""


def encode_cursor(*values: str) -> str:
    return base64.urlsafe_b64encode(dumps(list(values)).encode()).decode().rstrip("=")


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


def alliance_views(session: Session, ids: Sequence[str]) -> list[AllianceView]:
    if not ids:
        return []
    rows = {
        r.id: r for r in session.exec(select(AllianceRow).where(col(AllianceRow.id).in_(ids))).all()
    }
    links = session.exec(
        select(AllianceInstitutionRow, InstitutionRow)
        .join(InstitutionRow, col(InstitutionRow.id) == AllianceInstitutionRow.institution_id)
        .where(col(AllianceInstitutionRow.alliance_id).in_(ids))
        .order_by(col(AllianceInstitutionRow.position))
    ).all()
    roles: dict[str, dict[str, list[Institution]]] = defaultdict(lambda: {"lead": [], "member": []})
    for link, inst in links:
        roles[link.alliance_id][link.role].append(institution_of(inst))
    reviewers = {r.reviewed_by for r in rows.values() if r.reviewed_by}
    names = (
        dict(
            session.exec(
                select(AnalystRow.id, AnalystRow.name).where(col(AnalystRow.id).in_(reviewers))
            ).all()
        )
        if reviewers
        else {}
    )
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
        review = ReviewInfo(
            status=row.review_status,
            reviewed_at=utc(row.reviewed_at) if row.reviewed_at else None,
            reviewed_by=row.reviewed_by,
            reviewed_by_name=names.get(row.reviewed_by) if row.reviewed_by else None,
            locked_fields=tuple(
                f for f in LOCKABLE_FIELDS if f in json.loads(row.corrections or "{}")
            ),
        )
        views.append(AllianceView(alliance, alternatives, row.revision, review, row.merged_into))
    return views


class RegistryQueries:
    """Reads over the registry's tables; one per engine, safe to share between requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def conditions(self, session: Session, filters: AllianceFilters) -> list[Any]:
        conditions: list[Any] = [col(AllianceRow.merged_into).is_(None)]
        if not filters.include_rejected:
            conditions.append(col(AllianceRow.review_status) != ReviewStatus.rejected.value)
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
            *self.conditions(session, filters)
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
        views = alliance_views(session, [ident for ident, _ in page[:limit]])
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
            views = alliance_views(session, [alliance_id])
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
        views = [InstitutionView(institution_of(r), int(counts.get(r.id, 0))) for r in page]
        next_cursor = encode_cursor(page[-1].name, page[-1].id) if len(rows) > limit else None
        return views, next_cursor

    def get_institution(
        self, institution_id: str, limit: int = 500, include_rejected: bool = False
    ) -> tuple[InstitutionView, list[tuple[str, AllianceView]]] | None:
        """The institution and its alliances (newest first), each with its role; those an
        analyst rejected only with ``include_rejected``."""
        with Session(self.engine) as session:
            row = session.get(InstitutionRow, institution_id)
            if row is None:
                return None
            standing: list[Any] = [AllianceInstitutionRow.institution_id == institution_id]
            if not include_rejected:
                standing.append(col(AllianceRow.review_status) != ReviewStatus.rejected.value)
            links = session.exec(
                select(AllianceInstitutionRow.alliance_id, AllianceInstitutionRow.role)
                .join(AllianceRow, col(AllianceRow.id) == AllianceInstitutionRow.alliance_id)
                .where(*standing)
                .order_by(col(AllianceRow.first_seen).desc(), col(AllianceRow.id).desc())
                .limit(limit)
            ).all()
            roles = dict(links)
            views = alliance_views(session, [a for a, _ in links])
            total = session.exec(
                select(func.count())
                .select_from(AllianceInstitutionRow)
                .join(AllianceRow, col(AllianceRow.id) == AllianceInstitutionRow.alliance_id)
                .where(*standing)
            ).one()
        return InstitutionView(institution_of(row), int(total)), [
            (roles[v.alliance.id], v) for v in views
        ]

    def stats(self, filters: AllianceFilters) -> dict[str, Any]:
        with Session(self.engine) as session:
            ids = select(AllianceRow.id).where(*self.conditions(session, filters))
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

    # --- review (the analysts' reads) -----------------------------------------------------

    def review_queue(
        self,
        limit: int,
        cursor: str | None = None,
        province: str | None = None,
        type: EventType | None = None,
    ) -> tuple[list[AllianceView], str | None]:
        """Unreviewed alliances for analysts: the least certain first (then the newest,
        then by id), keyset-paginated."""
        filters = AllianceFilters(province=province, type=type)
        with Session(self.engine) as session:
            stmt = select(AllianceRow.id, AllianceRow.confidence, AllianceRow.first_seen).where(
                *self.conditions(session, filters),
                col(AllianceRow.review_status) == ReviewStatus.unreviewed.value,
            )
            if cursor:
                confidence_text, seen_text, last_id = decode_cursor(cursor, 3)
                try:
                    confidence = float(confidence_text)
                    seen = datetime.fromisoformat(seen_text)
                except ValueError as exc:
                    raise CursorError("invalid cursor") from exc
                same = col(AllianceRow.confidence) == confidence
                stmt = stmt.where(
                    or_(
                        col(AllianceRow.confidence) > confidence,
                        and_(same, col(AllianceRow.first_seen) < seen),
                        and_(
                            same, col(AllianceRow.first_seen) == seen, col(AllianceRow.id) > last_id
                        ),
                    )
                )
            stmt = stmt.order_by(
                col(AllianceRow.confidence), col(AllianceRow.first_seen).desc(), col(AllianceRow.id)
            )
            page = session.exec(stmt.limit(limit + 1)).all()
            views = alliance_views(session, [ident for ident, _, _ in page[:limit]])
        next_cursor = None
        if len(page) > limit:
            ident, confidence, seen = page[limit - 1]
            next_cursor = encode_cursor(repr(float(confidence)), utc(seen).isoformat(), ident)
        return views, next_cursor

    def history(self, alliance_id: str) -> list[ReviewActionRow] | None:
        """The alliance's review actions, oldest first; None if there is no such alliance."""
        with Session(self.engine) as session:
            if session.get(AllianceRow, alliance_id) is None:
                return None
            return list(
                session.exec(
                    select(ReviewActionRow)
                    .where(ReviewActionRow.alliance_id == alliance_id)
                    .order_by(col(ReviewActionRow.at), col(ReviewActionRow.id))
                ).all()
            )

    def list_analysts(self) -> list[AnalystRow]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(AnalystRow).order_by(col(AnalystRow.created_at), col(AnalystRow.id))
                ).all()
            )

    def list_renames(self) -> list[RenameRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(RenameRow).order_by(col(RenameRow.id))).all())
