"""Notify's rows as its API shows them: what a bureau or the operator reads back."""

from __future__ import annotations

from services.notify.adapters.tables import ApiKeyRow, BureauRow, DeliveryRow, SubscriptionRow
from services.notify.domain.models import (
    AlertType,
    ApiKeyPublic,
    BureauPublic,
    Channel,
    DeliveryPublic,
    DeliveryStatus,
    Filters,
    SubscriptionPublic,
)
from services.notify.domain.periods import Cadence


def bureau_public(row: BureauRow) -> BureauPublic:
    return BureauPublic(
        id=row.id, name=row.name, contact_email=row.contact_email, created_at=row.created_at
    )


def key_public(row: ApiKeyRow) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=row.id,
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def subscription_public(row: SubscriptionRow) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=row.id,
        name=row.name,
        channel=Channel(row.channel),
        url=row.url,
        filters=Filters.model_validate_json(row.filters),
        enabled=row.enabled,
        cadence=Cadence(row.cadence),
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        previous_secret_until=row.previous_secret_until if row.previous_secret_sealed else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def delivery_public(row: DeliveryRow) -> DeliveryPublic:
    return DeliveryPublic(
        id=row.id,
        subscription_id=row.subscription_id,
        change_id=row.change_id,
        alliance_id=row.alliance_id,
        type=AlertType(row.type),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_latency_ms=row.last_latency_ms,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )
