"""/v1/renames: the operator's table of renamed institutions (old name -> new name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from sqlalchemy.exc import DBAPIError

from services.registry.adapters.tables import RenameRow
from services.registry.entrypoints.api.deps import Queries, Repository, require_operator
from services.registry.entrypoints.api.schemas import RenameCreate, RenamePublic
from services.registry.service import RegistryService

router = APIRouter(
    prefix="/v1/renames", tags=["renames (operator)"], dependencies=[Depends(require_operator)]
)


def _public(row: RenameRow) -> RenamePublic:
    assert row.id is not None
    return RenamePublic(
        id=row.id, old_name=row.old_name, new_name=row.new_name, created_at=row.created_at
    )


@router.get("", response_model=list[RenamePublic])
def list_renames(queries: Queries) -> list[RenamePublic]:
    return [_public(r) for r in queries.list_renames()]


@router.post(
    "",
    response_model=RenamePublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": RenamePublic, "description": "the rule existed; it now points here"},
        503: {"description": "the registry database is unavailable"},
    },
)
def put_rename(body: RenameCreate, repository: Repository, response: Response) -> RenamePublic:
    """Record a rename (or change where an old name now points). Institutions known under
    the old name are folded into the new one and their alliances are updated."""
    try:
        row, created = _apply(repository, body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return _public(row)


def _apply(repository: RegistryService, body: RenameCreate) -> tuple[RenameRow, bool]:
    try:
        return repository.put_rename(body.old_name, body.new_name, datetime.now(UTC))
    except DBAPIError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the registry database is unavailable"
        ) from exc


@router.delete("/{rename_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rename(
    repository: Repository, rename_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> Response:
    """Forget a rule for future articles; institutions already folded stay folded."""
    if not repository.delete_rename(rename_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rename {rename_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
