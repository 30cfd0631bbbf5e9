"""Operator routes: bureaus and their API keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from services.notify.domain.models import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    BureauCreate,
    BureauCreated,
    BureauPublic,
    BureauUpdate,
)
from services.notify.entrypoints.api.deps import Service, require_operator

router = APIRouter(
    prefix="/v1/bureaus", tags=["bureaus (operator)"], dependencies=[Depends(require_operator)]
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BureauCreated)
async def create_bureau(body: BureauCreate, service: Service) -> BureauCreated:
    """A new bureau and its first API key; the key is shown in this answer only."""
    return await service.create_bureau(body.name, body.contact_email)


@router.get("", response_model=list[BureauPublic])
async def list_bureaus(service: Service) -> list[BureauPublic]:
    return await service.list_bureaus()


@router.patch("/{bureau_id}", response_model=BureauPublic)
async def update_bureau(bureau_id: str, body: BureauUpdate, service: Service) -> BureauPublic:
    """Change the bureau's name or contact e-mail (``contact_email: null`` removes it);
    the contact is told by e-mail when one of the bureau's endpoints is disabled."""
    return await service.update_bureau(bureau_id, body)


@router.get("/{bureau_id}/keys", response_model=list[ApiKeyPublic])
async def list_bureau_keys(bureau_id: str, service: Service) -> list[ApiKeyPublic]:
    return await service.list_keys(bureau_id)


@router.post("/{bureau_id}/keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def issue_bureau_key(bureau_id: str, body: ApiKeyCreate, service: Service) -> ApiKeyIssued:
    """Another key for the bureau (for a rotation without downtime, or a lost key)."""
    return await service.issue_key(bureau_id, body.label)


@router.delete("/{bureau_id}/keys/{key_id}", response_model=ApiKeyPublic)
async def revoke_bureau_key(bureau_id: str, key_id: str, service: Service) -> ApiKeyPublic:
    return await service.revoke_key(bureau_id, key_id)
