"""Dependencies shared by the routers: the write repository, the read model, the filters,
the operator check."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status

from services.common.auth import BearerGuard
from services.common.contracts import EventType
from services.common.places import Level, UnknownPlace
from services.common.places import check as check_place
from services.registry.adapters.queries import AllianceFilters, RegistryQueries
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService


def get_repository(request: Request) -> RegistryService:
    repository: RegistryService = request.app.state.repository
    return repository


Repository = Annotated[RegistryService, Depends(get_repository)]


def get_queries(request: Request) -> RegistryQueries:
    queries: RegistryQueries = request.app.state.queries
    return queries


#: The read model: every GET route reads through it, never through the write repository.
Queries = Annotated[RegistryQueries, Depends(get_queries)]


def alliance_filters(
    province: Annotated[str | None, Query(max_length=40, description="陕西 or 陕西省")] = None,
    city: Annotated[str | None, Query(max_length=60)] = None,
    county: Annotated[str | None, Query(max_length=60)] = None,
    type: Annotated[EventType | None, Query()] = None,
    specialty: Annotated[str | None, Query(max_length=60)] = None,
    institution: Annotated[
        str | None, Query(max_length=200, description="An institution id or any of its names")
    ] = None,
    since: Annotated[date | None, Query(description="Event date on or after")] = None,
    until: Annotated[date | None, Query(description="Event date on or before")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Search in names")
    ] = None,
    include_rejected: Annotated[
        bool, Query(description="Also alliances an analyst rejected (left out by default)")
    ] = False,
) -> AllianceFilters:
    refuse_unknown_places(province=province, city=city, county=county)
    if since is not None and until is not None and since > until:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="since is after until")
    return AllianceFilters(
        province=province,
        city=city,
        county=county,
        type=type,
        specialty=specialty,
        institution=institution,
        since=since,
        until=until,
        q=q,
        include_rejected=include_rejected,
    )


Filters = Annotated[AllianceFilters, Depends(alliance_filters)]


def refuse_unknown_places(**words: str | None) -> None:
    """422 for a place word the gazetteer does not know at its level, with the nearest
    names: a typo must not look like a place with no alliances."""
    for name, word in words.items():
        if not word:
            continue
        try:
            check_place(Level(name), word)
        except UnknownPlace as unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[
                    {
                        "type": "unknown_place",
                        "loc": ["query", name],
                        "msg": str(unknown),
                        "suggestions": unknown.suggestions,
                    }
                ],
            ) from None


def public_base_url(request: Request) -> str:
    settings: RegistrySettings = request.app.state.settings
    return settings.public_base_url


#: Where alliance pages live (PUBLIC_BASE_URL), "" when not set.
PageBase = Annotated[str, Depends(public_base_url)]


def _operator_token(request: Request) -> list[str]:
    settings: RegistrySettings = request.app.state.settings
    return [settings.operator_token.strip()]


#: The rename table's guard; without REGISTRY_OPERATOR_TOKEN (allowed outside production)
#: those routes answer 503 and the rest of the registry runs.
require_operator = BearerGuard(
    _operator_token,
    setting="REGISTRY_OPERATOR_TOKEN",
    credential="the operator token",
    routes="operator endpoints",
)
