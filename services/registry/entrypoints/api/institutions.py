"""/v1/institutions: canonical institutions, searchable, each with its alliances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from services.registry.adapters.queries import CursorError
from services.registry.entrypoints.api.deps import PageBase, Queries, refuse_unknown_places
from services.registry.entrypoints.api.schemas import (
    AlliancePublic,
    InstitutionAlliancePublic,
    InstitutionDetailPublic,
    InstitutionPage,
    InstitutionSummaryPublic,
)

router = APIRouter(prefix="/v1/institutions", tags=["institutions"])


@router.get("", response_model=InstitutionPage)
def list_institutions(
    queries: Queries,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    province: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=600)] = None,
) -> InstitutionPage:
    """Institutions by name; `q` searches names and aliases."""
    refuse_unknown_places(province=province)
    try:
        views, next_cursor = queries.list_institutions(q, limit, cursor, province)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    return InstitutionPage(
        items=[InstitutionSummaryPublic.of(v) for v in views], next_cursor=next_cursor
    )


@router.get("/{institution_id}", response_model=InstitutionDetailPublic)
def get_institution(
    queries: Queries,
    page_base: PageBase,
    institution_id: Annotated[str, Path(max_length=40)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    include_rejected: Annotated[
        bool, Query(description="Also alliances an analyst rejected (left out by default)")
    ] = False,
) -> InstitutionDetailPublic:
    """The institution with its alliances, newest first, and its role in each."""
    found = queries.get_institution(institution_id, limit, include_rejected)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no institution {institution_id}")
    view, alliances = found
    summary = InstitutionSummaryPublic.of(view)
    return InstitutionDetailPublic(
        **summary.model_dump(),
        alliances=[
            InstitutionAlliancePublic(role=role, alliance=AlliancePublic.of(a, page_base))
            for role, a in alliances
        ],
    )
