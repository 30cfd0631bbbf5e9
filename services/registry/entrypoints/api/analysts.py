"""/v1/analysts: the operator issues and revokes the keys analysts review alliances with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from sqlalchemy.exc import DBAPIError

from services.registry.entrypoints.api.deps import Queries, Repository, require_operator
from services.registry.entrypoints.api.schemas import AnalystCreate, AnalystCreated, AnalystPublic

router = APIRouter(
    prefix="/v1/analysts", tags=["analysts (operator)"], dependencies=[Depends(require_operator)]
)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the registry database is unavailable"}
}


def _unavailable(exc: DBAPIError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail="the registry database is unavailable"
    )


@router.post(
    "", response_model=AnalystCreated, status_code=status.HTTP_201_CREATED, responses=_UNAVAILABLE
)
def create_analyst(body: AnalystCreate, repository: Repository) -> AnalystCreated:
    """A new analyst and their key, `ak_…`: shown in this answer only, kept as its hash."""
    try:
        row, key = repository.create_analyst(body.name, datetime.now(UTC))
    except DBAPIError as exc:
        raise _unavailable(exc) from exc
    return AnalystCreated(id=row.id, name=row.name, api_key=key, created_at=row.created_at)


@router.get("", response_model=list[AnalystPublic])
def list_analysts(queries: Queries) -> list[AnalystPublic]:
    return [
        AnalystPublic(id=r.id, name=r.name, created_at=r.created_at, revoked_at=r.revoked_at)
        for r in queries.list_analysts()
    ]


@router.delete("/{analyst_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_UNAVAILABLE)
def revoke_analyst(
    repository: Repository, analyst_id: Annotated[str, Path(max_length=40)]
) -> Response:
    """Revoke the analyst's key: it stops working at once. Their actions stay recorded."""
    try:
        found = repository.revoke_analyst(analyst_id, datetime.now(UTC))
    except DBAPIError as exc:
        raise _unavailable(exc) from exc
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no analyst {analyst_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
