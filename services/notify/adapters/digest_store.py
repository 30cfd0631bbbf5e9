"""Queries of the robots' shared budget, e-mail digests and bureau contacts.

A digest subscription's alerts are *held*: pending deliveries with no attempt time, which
the delivery worker never claims. A digest period is claimed (a ``digest_periods`` row,
unique per subscription and period, so one worker of several wins), sent, then recorded as
sent in the same transaction that marks its alerts delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.notify.adapters.store import Store
from services.notify.adapters.tables import (
    AttemptRow,
    BureauRow,
    DeliveryRow,
    DigestPeriodRow,
    SubscriptionRow,
)
from services.notify.domain.models import DeliveryStatus
from services.notify.domain.periods import Cadence
from services.notify.domain.robots import robot_key


@dataclass(frozen=True)
class PeriodOutcome:
    """How sending a digest period went, for ``finish_period``."""

    ok: bool
    started_at: datetime
    message_id: str
    status_code: int | None
    latency_ms: float | None
    error: str | None = None
    #: When a failed period is tried again; None: it has failed for good.
    retry_at: datetime | None = None


def _held() -> Any:
    return (
        col(DeliveryRow.status) == DeliveryStatus.pending.value,
        col(DeliveryRow.next_attempt_at).is_(None),
    )


class DigestQueries(Store):
    # --- robots: one budget per robot URL -------------------------------------------

    async def robot_sends(self, channel: str, url: str, since: datetime) -> list[datetime]:
        """When the messages to the robot ``url`` (of any subscription posting to it) went
        out since ``since``: one per message and per attempt (retries count), however many
        deliveries a digest message carried."""
        key = robot_key(url)

        def work(session: Session) -> list[datetime]:
            candidates = session.exec(
                select(SubscriptionRow.id, SubscriptionRow.url).where(
                    SubscriptionRow.channel == channel
                )
            ).all()
            siblings = [ident for ident, other in candidates if robot_key(other) == key]
            if not siblings:
                return []
            rows = session.exec(
                select(AttemptRow.message_id, AttemptRow.started_at)
                .where(
                    col(AttemptRow.subscription_id).in_(siblings),
                    col(AttemptRow.started_at) > since,
                )
                .distinct()
            ).all()
            return sorted(started for _, started in set(rows))

        return await self._run(work)

    # --- bureaus' contacts ----------------------------------------------------------

    async def update_bureau(self, bureau_id: str, changes: dict[str, Any]) -> BureauRow | None:
        def work(session: Session) -> BureauRow | None:
            row = session.get(BureauRow, bureau_id)
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            session.add(row)
            session.commit()
            return row

        return await self._run(work)

    async def subscription_and_bureau(
        self, subscription_id: str
    ) -> tuple[SubscriptionRow, BureauRow] | None:
        def work(session: Session) -> tuple[SubscriptionRow, BureauRow] | None:
            subscription = session.get(SubscriptionRow, subscription_id)
            if subscription is None:
                return None
            bureau = session.get(BureauRow, subscription.bureau_id)
            return None if bureau is None else (subscription, bureau)

        return await self._run(work)

    async def pause_subscription(self, subscription_id: str, reason: str, now: datetime) -> bool:
        """Disable a live subscription (an unsubscribe link); False when there is none."""

        def work(session: Session) -> bool:
            row = session.get(SubscriptionRow, subscription_id)
            if row is None or row.deleted_at is not None:
                return False
            if row.enabled or row.disabled_reason != reason:
                row.enabled = False
                row.disabled_reason = reason
                row.updated_at = now
                session.add(row)
                session.commit()
            return True

        return await self._run(work)

    # --- digests --------------------------------------------------------------------

    async def digest_subscriptions(self) -> list[SubscriptionRow]:
        return await self._run(
            lambda s: list(
                s.exec(
                    select(SubscriptionRow).where(
                        col(SubscriptionRow.enabled).is_(True),
                        col(SubscriptionRow.deleted_at).is_(None),
                        col(SubscriptionRow.cadence) != Cadence.immediate.value,
                    )
                ).all()
            )
        )

    async def held_deliveries(self, subscription_id: str, until: datetime) -> list[DeliveryRow]:
        """The alerts held for a digest, created before ``until``, oldest first."""
        return await self._run(
            lambda s: list(
                s.exec(
                    select(DeliveryRow)
                    .where(
                        DeliveryRow.subscription_id == subscription_id,
                        *_held(),
                        col(DeliveryRow.created_at) < until,
                    )
                    .order_by(col(DeliveryRow.created_at), col(DeliveryRow.id))
                ).all()
            )
        )

    async def release_held(self, subscription_id: str, now: datetime) -> int:
        """A subscription back to immediate: its held alerts are due now."""

        def work(session: Session) -> int:
            result = session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.subscription_id) == subscription_id, *_held())
                .values(next_attempt_at=now)
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

        return await self._run(work)

    async def period_status(self, subscription_id: str, period: str) -> str | None:
        def work(session: Session) -> str | None:
            row = session.get(DigestPeriodRow, (subscription_id, period))
            return None if row is None else row.status

        return await self._run(work)

    async def claim_period(
        self, subscription_id: str, period: str, now: datetime, lease: timedelta
    ) -> int | None:
        """Take a period for sending: the attempt's number, or None when it was sent, has
        failed for good, is being sent by another worker, or waits for its retry."""

        def work(session: Session) -> int | None:
            row = session.get(DigestPeriodRow, (subscription_id, period))
            if row is None:
                row = DigestPeriodRow(subscription_id=subscription_id, period=period, status="")
            elif (
                row.status in ("sent", "failed")
                or row.status == "sending"
                and row.lease_until
                and row.lease_until > now
                or row.status == "retry"
                and row.next_attempt_at
                and row.next_attempt_at > now
            ):
                return None
            row.status = "sending"
            row.attempts += 1
            row.lease_until = now + lease
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another worker inserted it first
                session.rollback()
                return None
            return row.attempts

        return await self._run(work)

    async def finish_period(
        self,
        subscription_id: str,
        period: str,
        delivery_ids: Sequence[str],
        outcome: PeriodOutcome,
    ) -> None:
        """In one transaction: the period sent (or failed, or due again) and its alerts
        delivered (or failed), each with the attempt in its log."""

        def work(session: Session) -> None:
            row = session.get(DigestPeriodRow, (subscription_id, period))
            if row is None:
                raise LookupError(f"digest period {period} of {subscription_id} was not claimed")
            row.lease_until = None
            row.last_error = outcome.error
            row.alerts = len(delivery_ids)
            final = outcome.ok or outcome.retry_at is None
            if outcome.ok:
                row.status, row.sent_at = "sent", outcome.started_at
            elif outcome.retry_at is None:
                row.status = "failed"
            else:
                row.status, row.next_attempt_at = "retry", outcome.retry_at
            session.add(row)
            for delivery_id in delivery_ids:
                delivery = session.get(DeliveryRow, delivery_id)
                if delivery is None or delivery.status != DeliveryStatus.pending.value:
                    continue
                delivery.attempts += 1
                session.add(
                    AttemptRow(
                        delivery_id=delivery_id,
                        subscription_id=subscription_id,
                        message_id=outcome.message_id,
                        number=delivery.attempts,
                        started_at=outcome.started_at,
                        status_code=outcome.status_code,
                        latency_ms=outcome.latency_ms,
                        outcome="delivered" if outcome.ok else "failed" if final else "retry",
                        error=outcome.error,
                        batch_size=len(delivery_ids),
                    )
                )
                delivery.last_status_code = outcome.status_code
                delivery.last_latency_ms = outcome.latency_ms
                delivery.last_error = outcome.error
                if outcome.ok:
                    delivery.status = DeliveryStatus.delivered.value
                    delivery.delivered_at = outcome.started_at
                elif final:
                    delivery.status = DeliveryStatus.failed.value
                session.add(delivery)
            session.commit()

        await self._run(work)
