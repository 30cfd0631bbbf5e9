"""/v1/views: what the dashboard at / draws, aggregated by the database.

The page never pulls every alliance: the map gets counts per province and per pair of
provinces, the timeline counts per month and type, the table one sorted page.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import astuple
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from services.common.contracts import EventType
from services.common.labels import TYPE_COLOURS, TYPE_LABELS, type_label
from services.registry.adapters.dashboard import (
    DASHBOARD_SORTS,
    dashboard_count,
    dashboard_facets,
    dashboard_map,
    dashboard_page,
    dashboard_timeline,
    registry_signature,
)
from services.registry.adapters.queries import AllianceFilters, AllianceView, RegistryQueries
from services.registry.domain.names import PROVINCES
from services.registry.entrypoints.api.deps import Filters, Queries, refuse_unknown_places

router = APIRouter(prefix="/v1/views", tags=["dashboard"])

SORT_PATTERN = "^-?(" + "|".join(DASHBOARD_SORTS) + ")$"
T = TypeVar("T")


class AggregateCache:
    """Aggregates (the map, the timeline, the table's count), kept until the registry changes.

    An entry is valid while the registry's signature (alliance count, newest outbox entry)
    is the one it was computed under, and for at most ``ttl`` seconds whatever happens, so
    replicas sharing a database never show stale figures for long.
    """

    def __init__(self, size: int = 256, ttl: float = 60.0) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        queries: RegistryQueries,
        kind: str,
        filters: AllianceFilters,
        compute: Callable[[], T],
    ) -> T:
        key = (
            id(queries),
            str(queries.engine.url),
            kind,
            astuple(filters),
            registry_signature(queries),
        )
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] < self.ttl:
                self._entries.move_to_end(key)
                value: T = found[1]
                return value
        value = compute()
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = AggregateCache()


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProvinceCount(_View):
    name: str
    count: Annotated[int, Field(ge=0)]


class ProvinceLink(_View):
    source: str
    target: str
    count: Annotated[int, Field(ge=1, description="Cross-province alliances joining the two.")]


class MapView(_View):
    total: Annotated[int, Field(ge=0, description="Alliances matching the filters.")]
    provinces: list[ProvinceCount]
    links: list[ProvinceLink]


class TimelineSeries(_View):
    type: EventType
    label: str
    color: str = Field(description="The type's colour, the same in every view (#rrggbb).")
    counts: list[int] = Field(description="One count per month, aligned with `months`.")


class TimelineView(_View):
    months: list[str] = Field(description="Every month from the first to the last, YYYY-MM.")
    series: list[TimelineSeries]


class NameRef(_View):
    id: str
    name: str


class TableRow(_View):
    id: str
    date: str | None
    type: EventType
    type_label: str
    specialty: str | None
    lead: list[NameRef]
    members: list[NameRef]
    member_count: int
    provinces: list[str]
    cross_province: bool
    confidence: float
    source_count: int
    first_seen: datetime


class TableView(_View):
    total: Annotated[int, Field(ge=0)]
    page: Annotated[int, Field(ge=1)]
    size: Annotated[int, Field(ge=1)]
    pages: Annotated[int, Field(ge=0)]
    sort: str
    items: list[TableRow]


class Option(_View):
    value: str
    label: str
    count: int | None = None


class TypeOption(Option):
    color: str = Field(description="The type's colour in every chart (#rrggbb).")


class FacetsView(_View):
    provinces: list[Option]
    types: list[TypeOption]
    specialties: list[Option]
    cities: list[Option]


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months: list[str] = []
    while (year, month) <= end and len(months) < 1200:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _valid_month(value: str) -> bool:
    return len(value) == 7 and value[:4].isdigit() and value[4] == "-" and value[5:].isdigit()


@router.get("/map", response_model=MapView)
def map_view(queries: Queries, filters: Filters) -> MapView:
    """Alliances per province and cross-province links, for the filters given."""
    data = CACHE.get(queries, "map", filters, lambda: dashboard_map(queries, filters))
    return MapView(
        total=data["total"],
        provinces=[ProvinceCount(name=p, count=n) for p, n in data["provinces"]],
        links=[ProvinceLink(source=a, target=b, count=n) for a, b, n in data["links"]],
    )


@router.get("/timeline", response_model=TimelineView)
def timeline_view(queries: Queries, filters: Filters) -> TimelineView:
    """Alliances formed per month (by event date), one series per type."""
    found = CACHE.get(queries, "timeline", filters, lambda: dashboard_timeline(queries, filters))
    rows = [r for r in found if _valid_month(r[0])]
    if not rows:
        return TimelineView(months=[], series=[])
    months = _month_range(rows[0][0], rows[-1][0])
    index = {m: i for i, m in enumerate(months)}
    counts: dict[str, list[int]] = {}
    for month, kind, n in rows:
        if month in index:
            counts.setdefault(kind, [0] * len(months))[index[month]] += n
    series = [
        TimelineSeries(
            type=kind, label=TYPE_LABELS[kind], color=TYPE_COLOURS[kind], counts=counts[kind]
        )
        for kind in TYPE_LABELS
        if kind in counts
    ]
    return TimelineView(months=months, series=series)


def _row(view: AllianceView) -> TableRow:
    a = view.alliance
    return TableRow(
        id=a.id,
        date=a.date,
        type=a.type,
        type_label=type_label(a.type),
        specialty=a.specialty,
        lead=[NameRef(id=i.id, name=i.name) for i in a.lead],
        members=[NameRef(id=i.id, name=i.name) for i in a.members[:6]],
        member_count=len(a.members),
        provinces=list(a.provinces),
        cross_province=a.cross_province,
        confidence=a.confidence,
        source_count=len(a.sources),
        first_seen=a.first_seen,
    )


@router.get("/table", response_model=TableView)
def table_view(
    queries: Queries,
    filters: Filters,
    sort: Annotated[
        str, Query(pattern=SORT_PATTERN, description="A column, `-` first for descending")
    ] = "-date",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 25,
) -> TableView:
    """One page of the matching alliances, sorted by date, first seen, confidence, type or
    specialty."""
    descending = sort.startswith("-")
    try:
        views = dashboard_page(
            queries, filters, sort.lstrip("-"), descending, (page - 1) * size, size
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    total = CACHE.get(queries, "count", filters, lambda: dashboard_count(queries, filters))
    return TableView(
        total=total,
        page=page,
        size=size,
        pages=(total + size - 1) // size,
        sort=sort,
        items=[_row(v) for v in views],
    )


@router.get("/facets", response_model=FacetsView)
def facets_view(
    queries: Queries,
    province: Annotated[str | None, Query(max_length=40)] = None,
) -> FacetsView:
    """The choices the filters offer: provinces, types, specialties and cities (those of
    ``province`` when given), the last two with how many alliances or institutions have them."""
    refuse_unknown_places(province=province)
    data = dashboard_facets(queries, province)
    return FacetsView(
        provinces=[Option(value=p, label=p) for p in PROVINCES],
        types=[TypeOption(value=k, label=v, color=TYPE_COLOURS[k]) for k, v in TYPE_LABELS.items()],
        specialties=[Option(value=s, label=s, count=n) for s, n in data["specialties"]],
        cities=[Option(value=c, label=c, count=n) for c, n in data["cities"]],
    )
