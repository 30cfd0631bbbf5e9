"""A bureau's delivery log, and redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.notify.domain.models import (
    DeliveryDetail,
    DeliveryList,
    DeliveryPublic,
    DeliveryStatus,
    ReplayAnswer,
    ReplayRequest,
)
from services.notify.entrypoints.api.deps import Bureau, Service

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get(
    "",
    response_model=DeliveryList,
    responses={404: {"description": "no such subscription of this bureau"}},
)
async def list_deliveries(
    bureau: Bureau,
    service: Service,
    subscription_id: str | None = None,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryList:
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page."""
    items, next_cursor = await service.list_deliveries(
        bureau, subscription_id=subscription_id, status=status_, cursor=cursor, limit=limit
    )
    return DeliveryList(items=items, next_cursor=next_cursor)


@router.post(
    "/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplayAnswer,
    responses={
        404: {"description": "no such subscription of this bureau"},
        409: {"description": "the subscription is disabled"},
    },
)
async def replay(body: ReplayRequest, bureau: Bureau, service: Service) -> ReplayAnswer:
    """Send this bureau's deliveries created in ``[since, until)`` again, now: the failed
    ones (``status: failed``, the default) or the delivered ones too (``all``), of one
    subscription or of every enabled one. Each keeps its ``webhook-id``, so a receiver can
    drop one it already has. At most 1000 a call, oldest first: when ``more`` is true, call
    again with ``since: next_since``."""
    return await service.replay(bureau, body)


@router.get("/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(delivery_id: str, bureau: Bureau, service: Service) -> DeliveryDetail:
    """One delivery with its attempts: when, status code, latency, error."""
    return await service.get_delivery(bureau, delivery_id)


@router.post(
    "/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryPublic
)
async def redeliver(delivery_id: str, bureau: Bureau, service: Service) -> DeliveryPublic:
    """Send again now (with the same webhook-id), on a fresh retry schedule."""
    return await service.redeliver(bureau, delivery_id)
