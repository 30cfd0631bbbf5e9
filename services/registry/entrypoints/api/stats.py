"""/v1/stats: alliance counts by province, type, specialty and month."""

from __future__ import annotations

from fastapi import APIRouter

from services.registry.entrypoints.api.deps import Filters, Queries
from services.registry.entrypoints.api.schemas import StatsPublic

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("", response_model=StatsPublic)
def stats(queries: Queries, filters: Filters) -> StatsPublic:
    """Counts over the alliances matching the filters (months by event date)."""
    return StatsPublic.model_validate(queries.stats(filters))
