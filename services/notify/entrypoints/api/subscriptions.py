"""A bureau's subscriptions: what it wants to hear about, and where."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.notify.domain.models import (
    DeliveryQueued,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionPublic,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from services.notify.entrypoints.api.deps import Bureau, Service

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionWithSecret)
async def create_subscription(
    body: SubscriptionCreate, bureau: Bureau, service: Service
) -> SubscriptionWithSecret:
    """A webhook subscription gets a ``whsec_`` signing secret, shown in this answer."""
    return await service.create_subscription(bureau, body)


@router.get("", response_model=SubscriptionList)
async def list_subscriptions(bureau: Bureau, service: Service) -> SubscriptionList:
    return SubscriptionList(items=await service.list_subscriptions(bureau))


@router.get("/{subscription_id}", response_model=SubscriptionPublic)
async def get_subscription(
    subscription_id: str, bureau: Bureau, service: Service
) -> SubscriptionPublic:
    return await service.get_subscription(bureau, subscription_id)


@router.patch("/{subscription_id}", response_model=SubscriptionPublic)
async def update_subscription(
    subscription_id: str, body: SubscriptionUpdate, bureau: Bureau, service: Service
) -> SubscriptionPublic:
    """Change name, url, secret, filters; ``enabled: true`` re-enables a disabled one."""
    return await service.update_subscription(bureau, subscription_id, body)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    responses={409: {"description": "not a webhook subscription (PATCH a robot's secret)"}},
)
async def rotate_secret(
    subscription_id: str,
    bureau: Bureau,
    service: Service,
    body: SecretRotation | None = None,
) -> SubscriptionWithSecret:
    """A new webhook signing secret, shown in this answer. For ``overlap_seconds``
    (default 86400, at most 604800) deliveries carry both signatures,
    ``webhook-signature: v1,<new> v1,<old>``, so a receiver can switch to the new secret
    at its own pace; then only the new one signs."""
    return await service.rotate_secret(bureau, subscription_id, body)


@router.post(
    "/{subscription_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryQueued
)
async def send_test(subscription_id: str, bureau: Bureau, service: Service) -> DeliveryQueued:
    """A test alert (type ``alliance.test``, a sample alliance marked as a test) to the
    subscription's endpoint, signed and formatted like any alert and in the delivery log
    under ``delivery_id``; it goes to a disabled subscription too."""
    return await service.send_test(bureau, subscription_id)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(subscription_id: str, bureau: Bureau, service: Service) -> Response:
    await service.delete_subscription(bureau, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
