"""A bureau's own API keys: list, add, rotate, revoke."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.notify.domain.models import ApiKeyCreate, ApiKeyIssued, ApiKeyPublic
from services.notify.entrypoints.api.deps import Bureau, Service

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=list[ApiKeyPublic])
async def list_keys(bureau: Bureau, service: Service) -> list[ApiKeyPublic]:
    return await service.list_keys(bureau)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def add_key(body: ApiKeyCreate, bureau: Bureau, service: Service) -> ApiKeyIssued:
    """A further key; revoke the old one once every system uses the new one."""
    return await service.issue_key(bureau, body.label)


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def rotate_key(key_id: str, bureau: Bureau, service: Service) -> ApiKeyIssued:
    """Replace a key: the answer holds the new one; the old one stops working now."""
    return await service.rotate_key(bureau, key_id)


@router.delete("/{key_id}", response_model=ApiKeyPublic)
async def revoke_key(key_id: str, bureau: Bureau, service: Service) -> ApiKeyPublic:
    return await service.revoke_key(bureau, key_id)
