"""Notify's tables. The schema itself is made by the Alembic migrations next door
(``services/notify/migrations``); these classes map rows and must agree with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Table, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on PostgreSQL (timestamptz) and SQLite (text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)  # one fixed format, so text order is time order
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class BureauRow(SQLModel, table=True):
    __tablename__ = "bureaus"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    #: Told by e-mail when one of the bureau's endpoints is disabled.
    contact_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    bureau_id: str = Field(foreign_key="bureaus.id", index=True, max_length=40)
    prefix: str = Field(unique=True, max_length=32)
    digest: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubscriptionRow(SQLModel, table=True):
    __tablename__ = "subscriptions"

    id: str = Field(primary_key=True, max_length=40)
    bureau_id: str = Field(foreign_key="bureaus.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    channel: str = Field(max_length=16)
    url: str = Field(sa_type=Text)
    #: The webhook or robot secret, sealed (``adapters.sealing``); never the plaintext.
    secret_sealed: str | None = Field(default=None, sa_type=Text)
    #: After a rotation, the secret it replaced (sealed too), still signing alongside the
    #: new one until ``previous_secret_until``.
    previous_secret_sealed: str | None = Field(default=None, sa_type=Text)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    filters: str = Field(sa_type=Text)
    enabled: bool = True
    #: immediate, daily or weekly (e-mail digests; ``domain.periods.Cadence``).
    cadence: str = Field(default="immediate", max_length=16)
    disabled_reason: str | None = Field(default=None, sa_type=Text)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=40)
    bureau_id: str = Field(index=True, max_length=40)
    subscription_id: str = Field(foreign_key="subscriptions.id", index=True, max_length=40)
    change_id: str = Field(max_length=128)
    alliance_id: str = Field(index=True, max_length=128)
    #: One delivery per subscription per change, whatever the number of consumptions.
    dedupe_key: str = Field(unique=True, max_length=200)
    type: str = Field(max_length=32)
    payload: str = Field(sa_type=Text)
    status: str = Field(max_length=16)
    step: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    last_latency_ms: float | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The W3C trace context of the change (JSON), continued by each attempt's span.
    trace_context: str | None = Field(default=None, sa_type=Text)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery as a change creates it, to be inserted with others (``values``): what
    it needs of a ``DeliveryRow``, without the ORM's bookkeeping of an object, which
    costs more than the whole insert does per row."""

    id: str
    bureau_id: str
    subscription_id: str
    change_id: str
    alliance_id: str
    dedupe_key: str
    type: str
    payload: str
    status: str
    next_attempt_at: datetime | None
    created_at: datetime
    trace_context: str | None

    def values(self) -> dict[str, Any]:
        """Its row's values, the columns it leaves out as a new ``DeliveryRow`` has them."""
        return {
            "id": self.id,
            "bureau_id": self.bureau_id,
            "subscription_id": self.subscription_id,
            "change_id": self.change_id,
            "alliance_id": self.alliance_id,
            "dedupe_key": self.dedupe_key,
            "type": self.type,
            "payload": self.payload,
            "status": self.status,
            "step": 0,
            "attempts": 0,
            "next_attempt_at": self.next_attempt_at,
            "lease_until": None,
            "last_status_code": None,
            "last_error": None,
            "last_latency_ms": None,
            "created_at": self.created_at,
            "delivered_at": None,
            "trace_context": self.trace_context,
        }


class AttemptRow(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="deliveries.id", index=True, max_length=40)
    subscription_id: str = Field(index=True, max_length=40)
    #: The message this attempt went out in; several deliveries share one in a digest.
    message_id: str = Field(max_length=40)
    number: int
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status_code: int | None = None
    latency_ms: float | None = None
    outcome: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_type=Text)
    batch_size: int = 1


class ReceivedChange(SQLModel, table=True):
    __tablename__ = "received_changes"

    change_id: str = Field(primary_key=True, max_length=128)
    alliance_id: str = Field(index=True, max_length=128)
    kind: str = Field(max_length=16)
    payload: str
    received_at: datetime = Field(sa_type=UTCDateTime)


class DigestPeriodRow(SQLModel, table=True):
    """A digest period of a subscription: claimed (``sending``), then ``sent`` (in the
    transaction that marks its alerts delivered) or ``failed``; never sent twice."""

    __tablename__ = "digest_periods"

    subscription_id: str = Field(foreign_key="subscriptions.id", primary_key=True, max_length=40)
    period: str = Field(primary_key=True, max_length=32)
    status: str = Field(max_length=16)
    attempts: int = 0
    #: While ``sending``: the claim runs out then (a worker died holding it).
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: A failed try is tried again from then.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    alerts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def table_of(row: type[SQLModel]) -> Table:
    """The Core table of a row class: for statements over many rows at once, which the
    ORM would send one row at a time (and load each row first to do it)."""
    return row.__table__  # type: ignore[attr-defined, no-any-return]
