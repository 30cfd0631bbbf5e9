"""The dashboard's aggregates (the page at / and its /v1/views endpoints): counts per
province and month, sorted pages, facets. Read-only, over the read model's filters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from services.common.places import province_key
from services.registry.adapters.queries import (
    AllianceFilters,
    AllianceView,
    RegistryQueries,
    alliance_views,
)
from services.registry.adapters.tables import (
    AlliancePlaceRow,
    AllianceRow,
    InstitutionRow,
    OutboxRow,
)

#: Columns the dashboard's table sorts by; each ends with the id to make the order total.
DASHBOARD_SORTS = ("date", "first_seen", "confidence", "type", "specialty")


def _filtered_ids(queries: RegistryQueries, session: Session, filters: AllianceFilters) -> Any:
    """The ids of the alliances matching ``filters`` as a subquery, or None for all."""
    conditions = queries.conditions(session, filters)
    return select(AllianceRow.id).where(*conditions) if conditions else None


def dashboard_map(queries: RegistryQueries, filters: AllianceFilters) -> dict[str, Any]:
    """Alliances per province, and per pair of provinces that cross-province alliances join."""
    with Session(queries.engine) as session:
        ids = _filtered_ids(queries, session, filters)
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
    queries: RegistryQueries, filters: AllianceFilters
) -> list[tuple[str, str, int]]:
    """(month, type, alliances formed), by event date; alliances dated to a year are left out."""
    with Session(queries.engine) as session:
        ids = _filtered_ids(queries, session, filters)
        month = func.substr(col(AllianceRow.date), 1, 7)
        stmt = select(month, AllianceRow.type, func.count()).where(
            func.length(col(AllianceRow.date)) >= 7
        )
        if ids is not None:
            stmt = stmt.where(col(AllianceRow.id).in_(ids))
        rows = session.exec(stmt.group_by(month, col(AllianceRow.type))).all()
    return sorted((str(m), str(t), int(n)) for m, t, n in rows)


def dashboard_page(
    queries: RegistryQueries,
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
        if queries.engine.dialect.name == "sqlite":
            # SQLite puts NULLs last when descending, as an index scan gives them.
            if not descending:
                keys.insert(0, column.is_(None))
        else:
            keys[0] = keys[0].nulls_last()
    with Session(queries.engine) as session:
        conditions = queries.conditions(session, filters)
        ids = session.exec(
            select(AllianceRow.id).where(*conditions).order_by(*keys).offset(offset).limit(limit)
        ).all()
        return alliance_views(session, list(ids))


def dashboard_count(queries: RegistryQueries, filters: AllianceFilters) -> int:
    """How many alliances match ``filters``."""
    with Session(queries.engine) as session:
        ids = _filtered_ids(queries, session, filters)
        stmt = select(func.count()).select_from(ids.subquery() if ids is not None else AllianceRow)
        return int(session.exec(stmt).one())


def dashboard_facets(
    queries: RegistryQueries, province: str | None = None, limit: int = 300
) -> dict[str, list[tuple[str, int]]]:
    """Values the filters offer: specialties, and cities (of one province, if given)."""
    with Session(queries.engine) as session:
        count = func.count()
        specialties = session.exec(
            select(AllianceRow.specialty, count)
            .where(
                col(AllianceRow.specialty).is_not(None),
                # as the lists: not what analysts rejected or merged away
                col(AllianceRow.merged_into).is_(None),
                col(AllianceRow.review_status) != "rejected",
            )
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


def registry_signature(queries: RegistryQueries) -> tuple[int, int]:
    """Cheap to read, and different after any committed change to the alliances: how many
    there are, and the newest outbox entry (every write that changes one appends one)."""
    with Session(queries.engine) as session:
        alliances = session.exec(select(func.count()).select_from(AllianceRow)).one()
        newest = session.exec(select(func.max(OutboxRow.id))).one()
    return int(alliances), int(newest or 0)
