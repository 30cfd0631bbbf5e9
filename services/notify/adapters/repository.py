"""Notify's database: bureaus, keys, subscriptions, deliveries, attempts, received changes.

Every query about a bureau's data takes the bureau's id and filters on it: a row of another
bureau is simply not found. Methods are async and run their SQL in a worker thread.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common.contracts import Alliance, AllianceChange
from services.notify.adapters.digest_store import DigestQueries
from services.notify.adapters.log_queries import DeliveryLogQueries
from services.notify.adapters.tables import (
    ApiKeyRow,
    AttemptRow,
    BureauRow,
    DeliveryRow,
    NewDelivery,
    ReceivedChange,
    SubscriptionRow,
    UTCDateTime,
    table_of,
)
from services.notify.domain.models import AlertType, DeliveryStatus

T = TypeVar("T")


@dataclass(frozen=True)
class ChangesContext:
    """What deciding a batch of changes' deliveries needs, read at once."""

    #: change ids already received
    seen: set[str]
    #: each alliance as last received, by alliance id
    previous: dict[str, Alliance]
    #: the live subscriptions
    subscriptions: list[SubscriptionRow]
    #: by alliance id: the subscriptions already alerted about it
    told: dict[str, set[str]]


def new_id(prefix: str) -> str:
    """Time-ordered ids (``dlv_0192f3a4b5c6d7e8f9a0b1c2``): newer sorts later."""
    return f"{prefix}_{int(time.time() * 1000):012x}{os.urandom(6).hex()}"


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt at one delivery came to; written back by ``record_attempts``."""

    delivery_id: str
    subscription_id: str
    message_id: str
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    outcome: str  # delivered | retry | failed | gone
    error: str | None
    next_attempt_at: datetime | None
    batch_size: int = 1
    #: False for a wait the receiver imposed (a robot's rate limit): the retry schedule
    #: does not advance, so the wait burns none of the delivery's attempts.
    burns_step: bool = True


@dataclass(frozen=True)
class SubscriptionHealth:
    """A subscription's standing after a round of attempts."""

    subscription_id: str
    succeeded: bool
    disable_reason: str | None = None
    last_error: str | None = None


# What ``changes_context`` reads for each fetch of changes, built once with the ids as
# expanding parameters: building these statements anew cost more than running them.
#: Which of the changes were received already.
_SEEN = select(ReceivedChange.change_id).where(
    col(ReceivedChange.change_id).in_(bindparam("change_ids", expanding=True))
)
_LATEST = (
    select(ReceivedChange.alliance_id, func.max(ReceivedChange.received_at).label("at"))
    .where(col(ReceivedChange.alliance_id).in_(bindparam("alliance_ids", expanding=True)))
    .group_by(col(ReceivedChange.alliance_id))
    .subquery()
)
#: The change each alliance was last received with.
_PREVIOUS = select(ReceivedChange).join(
    _LATEST,
    and_(
        col(ReceivedChange.alliance_id) == _LATEST.c.alliance_id,
        col(ReceivedChange.received_at) == _LATEST.c.at,
    ),
)
_LIVE_SUBSCRIPTIONS = select(SubscriptionRow).where(
    col(SubscriptionRow.enabled).is_(True), col(SubscriptionRow.deleted_at).is_(None)
)
#: The subscriptions already alerted about each alliance.
_TOLD = (
    select(DeliveryRow.alliance_id, DeliveryRow.subscription_id)
    .where(col(DeliveryRow.alliance_id).in_(bindparam("alliance_ids", expanding=True)))
    .distinct()
)


class NotifyRepository(DeliveryLogQueries, DigestQueries):
    # --- bureaus and keys -----------------------------------------------------------

    async def create_bureau(self, bureau: BureauRow, key: ApiKeyRow) -> None:
        def work(session: Session) -> None:
            session.add(bureau)
            session.flush()
            session.add(key)
            session.commit()

        await self._run(work)

    async def list_bureaus(self) -> list[BureauRow]:
        return await self._run(
            lambda s: list(s.exec(select(BureauRow).order_by(col(BureauRow.created_at))).all())
        )

    async def get_bureau(self, bureau_id: str) -> BureauRow | None:
        return await self._run(lambda s: s.get(BureauRow, bureau_id))

    async def add_key(self, key: ApiKeyRow) -> None:
        def work(session: Session) -> None:
            session.add(key)
            session.commit()

        await self._run(work)

    async def list_keys(self, bureau_id: str) -> list[ApiKeyRow]:
        return await self._run(
            lambda s: list(
                s.exec(
                    select(ApiKeyRow)
                    .where(ApiKeyRow.bureau_id == bureau_id)
                    .order_by(col(ApiKeyRow.created_at))
                ).all()
            )
        )

    async def get_key(self, bureau_id: str, key_id: str) -> ApiKeyRow | None:
        def work(session: Session) -> ApiKeyRow | None:
            row = session.get(ApiKeyRow, key_id)
            return row if row is not None and row.bureau_id == bureau_id else None

        return await self._run(work)

    async def revoke_key(self, bureau_id: str, key_id: str, now: datetime) -> ApiKeyRow | None:
        def work(session: Session) -> ApiKeyRow | None:
            row = session.get(ApiKeyRow, key_id)
            if row is None or row.bureau_id != bureau_id:
                return None
            if row.revoked_at is None:
                row.revoked_at = now
                session.add(row)
                session.commit()
            return row

        return await self._run(work)

    async def rotate_key(
        self, bureau_id: str, key_id: str, replacement: ApiKeyRow, now: datetime
    ) -> ApiKeyRow | None:
        """Revoke a live key and add its replacement, in one transaction."""

        def work(session: Session) -> ApiKeyRow | None:
            row = session.get(ApiKeyRow, key_id)
            if row is None or row.bureau_id != bureau_id or row.revoked_at is not None:
                return None
            row.revoked_at = now
            session.add(row)
            session.add(replacement)
            session.commit()
            return replacement

        return await self._run(work)

    async def live_keys_with_prefix(self, prefix: str) -> list[ApiKeyRow]:
        return await self._run(
            lambda s: list(
                s.exec(
                    select(ApiKeyRow).where(
                        ApiKeyRow.prefix == prefix, col(ApiKeyRow.revoked_at).is_(None)
                    )
                ).all()
            )
        )

    # --- subscriptions --------------------------------------------------------------

    async def add_subscription(self, row: SubscriptionRow) -> None:
        def work(session: Session) -> None:
            session.add(row)
            session.commit()

        await self._run(work)

    async def list_subscriptions(self, bureau_id: str) -> list[SubscriptionRow]:
        return await self._run(
            lambda s: list(
                s.exec(
                    select(SubscriptionRow)
                    .where(
                        SubscriptionRow.bureau_id == bureau_id,
                        col(SubscriptionRow.deleted_at).is_(None),
                    )
                    .order_by(col(SubscriptionRow.created_at), col(SubscriptionRow.id))
                ).all()
            )
        )

    async def get_subscription(
        self, bureau_id: str, subscription_id: str
    ) -> SubscriptionRow | None:
        def work(session: Session) -> SubscriptionRow | None:
            row = session.get(SubscriptionRow, subscription_id)
            if row is None or row.bureau_id != bureau_id or row.deleted_at is not None:
                return None
            return row

        return await self._run(work)

    async def update_subscription(
        self, bureau_id: str, subscription_id: str, changes: dict[str, Any]
    ) -> SubscriptionRow | None:
        def work(session: Session) -> SubscriptionRow | None:
            row = session.get(SubscriptionRow, subscription_id)
            if row is None or row.bureau_id != bureau_id or row.deleted_at is not None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            session.add(row)
            session.commit()
            return row

        return await self._run(work)

    async def delete_subscription(
        self, bureau_id: str, subscription_id: str, now: datetime
    ) -> bool:
        """Soft delete: the delivery log stays; pending deliveries are dropped as failed."""

        def work(session: Session) -> bool:
            row = session.get(SubscriptionRow, subscription_id)
            if row is None or row.bureau_id != bureau_id or row.deleted_at is not None:
                return False
            row.deleted_at = now
            row.enabled = False
            row.disabled_reason = "deleted"
            session.add(row)
            session.execute(
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.subscription_id) == subscription_id,
                    col(DeliveryRow.status).in_(
                        [DeliveryStatus.pending.value, DeliveryStatus.sending.value]
                    ),
                )
                .values(
                    status=DeliveryStatus.failed.value,
                    next_attempt_at=None,
                    last_error="subscription deleted",
                )
            )
            session.commit()
            return True

        return await self._run(work)

    async def sealed_secrets(self, *, live_only: bool = False) -> list[tuple[str, str]]:
        """``(subscription id, sealed secret)`` of every secret stored: the current one of
        each subscription that has one, and a rotated-out one still in its overlap."""

        def work(session: Session) -> list[tuple[str, str]]:
            query = select(
                SubscriptionRow.id,
                SubscriptionRow.secret_sealed,
                SubscriptionRow.previous_secret_sealed,
            )
            if live_only:
                query = query.where(col(SubscriptionRow.deleted_at).is_(None))
            rows = session.exec(query.order_by(col(SubscriptionRow.id))).all()
            return [
                (ident, sealed)
                for ident, current, previous in rows
                for sealed in (current, previous)
                if sealed is not None
            ]

        return await self._run(work)

    async def replace_sealed_secret(self, subscription_id: str, old: str, new: str) -> bool:
        """Swap a sealed secret (current or previous) for its re-sealed form, unless it
        changed meanwhile (a bureau rotating its secret wins over the re-sealing)."""

        def work(session: Session) -> bool:
            replaced = 0
            for column in (SubscriptionRow.secret_sealed, SubscriptionRow.previous_secret_sealed):
                result = session.execute(
                    update(SubscriptionRow)
                    .where(col(SubscriptionRow.id) == subscription_id, col(column) == old)
                    .values({column: new})
                )
                replaced += int(result.rowcount)  # type: ignore[attr-defined]
            session.commit()
            return replaced >= 1

        return await self._run(work)

    async def active_subscriptions(self) -> list[SubscriptionRow]:
        return await self._run(
            lambda s: list(
                s.exec(
                    select(SubscriptionRow).where(
                        col(SubscriptionRow.enabled).is_(True),
                        col(SubscriptionRow.deleted_at).is_(None),
                    )
                ).all()
            )
        )

    # --- received changes and new deliveries ----------------------------------------

    async def change_context(
        self, change: AllianceChange
    ) -> tuple[bool, Alliance | None, list[SubscriptionRow], set[str]]:
        """In one round trip: whether the change was seen, the alliance as last received,
        the live subscriptions, and those already alerted about this alliance."""
        context = await self.changes_context([change])
        if change.change_id in context.seen:
            return True, None, [], set()
        return (
            False,
            context.previous.get(change.alliance_id),
            context.subscriptions,
            context.told[change.alliance_id],
        )

    async def record_change(
        self, change: AllianceChange, received_at: datetime, deliveries: Sequence[NewDelivery]
    ) -> bool:
        """Keep the change and its deliveries in one transaction.

        False when the change was already received (a re-consumption, or a concurrent
        consumer that won the race): then nothing is written.
        """
        return await self.record_changes([(change, received_at, deliveries)])

    async def changes_context(self, changes: Sequence[AllianceChange]) -> ChangesContext:
        """``change_context`` for a batch of changes, in one round trip."""

        def work(session: Session) -> ChangesContext:
            ids = list(dict.fromkeys(c.change_id for c in changes))
            alliance_ids = list(dict.fromkeys(c.alliance_id for c in changes))
            seen = set(session.exec(_SEEN, params={"change_ids": ids}).all())
            previous: dict[str, Alliance] = {}
            for row in session.exec(_PREVIOUS, params={"alliance_ids": alliance_ids}).all():
                previous[row.alliance_id] = AllianceChange.model_validate_json(row.payload).alliance
            subscriptions = list(session.exec(_LIVE_SUBSCRIPTIONS).all())
            told: dict[str, set[str]] = {a: set() for a in alliance_ids}
            for alliance_id, subscription_id in session.exec(
                _TOLD, params={"alliance_ids": alliance_ids}
            ).all():
                told[alliance_id].add(subscription_id)
            return ChangesContext(seen, previous, subscriptions, told)

        return await self._run(work)

    async def record_changes(
        self, received: Sequence[tuple[AllianceChange, datetime, Sequence[NewDelivery]]]
    ) -> bool:
        """Keep a batch of changes and their deliveries in one transaction. False, with
        nothing written, when one of them was already received (its change id is the key
        of ``received_changes``: a re-consumption, or a concurrent replica that won)."""

        def work(session: Session) -> bool:
            changes = [
                {
                    "change_id": change.change_id,
                    "alliance_id": change.alliance_id,
                    "kind": change.kind.value,
                    "payload": change.model_dump_json(),
                    "received_at": received_at,
                }
                for change, received_at, _ in received
            ]
            deliveries = [d.values() for _, _, batch in received for d in batch]
            try:
                # Two multi-row inserts (the ORM would flush them a row at a time).
                session.execute(insert(table_of(ReceivedChange)), changes)
                if deliveries:
                    session.execute(insert(table_of(DeliveryRow)), deliveries)
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

        return await self._run(work)

    async def received_change_ids(self) -> list[str]:
        return await self._run(
            lambda s: list(
                s.exec(select(ReceivedChange.change_id).order_by(col(ReceivedChange.change_id)))
            )
        )

    # --- the delivery worker --------------------------------------------------------

    async def count_open(self) -> int:
        """Deliveries not yet delivered, failed or gone: the retry backlog."""

        def work(session: Session) -> int:
            open_statuses = (DeliveryStatus.pending.value, DeliveryStatus.sending.value)
            query = (
                select(func.count())
                .select_from(DeliveryRow)
                .where(col(DeliveryRow.status).in_(open_statuses))
            )
            return int(session.exec(query).one())

        return await self._run(work)

    @staticmethod
    def _due(now: datetime) -> Any:
        return or_(
            and_(
                col(DeliveryRow.status) == DeliveryStatus.pending.value,
                col(DeliveryRow.next_attempt_at) <= now,
            ),
            and_(
                col(DeliveryRow.status) == DeliveryStatus.sending.value,
                col(DeliveryRow.lease_until) <= now,
            ),
        )

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta
    ) -> list[tuple[DeliveryRow, SubscriptionRow]]:
        """Take up to ``limit`` due deliveries of live subscriptions for this worker.

        One conditional update takes them all, and makes a claim exclusive among replicas;
        a worker that dies holding one lets its lease run out, and the delivery is due
        again. On PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``: a replica
        passes over the rows another is claiming instead of waiting for its commit and
        then finding them taken (SQLite has one writer at a time: nothing to skip).
        """

        def work(session: Session) -> list[tuple[DeliveryRow, SubscriptionRow]]:
            due = (
                select(DeliveryRow, SubscriptionRow)
                .join(SubscriptionRow, col(SubscriptionRow.id) == col(DeliveryRow.subscription_id))
                .where(
                    self._due(now),
                    # A test alert goes out to a disabled endpoint too: it is how a bureau
                    # finds out whether the endpoint works again.
                    or_(
                        col(SubscriptionRow.enabled).is_(True),
                        col(DeliveryRow.type) == AlertType.test.value,
                    ),
                    col(SubscriptionRow.deleted_at).is_(None),
                )
                .order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id))
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(of=DeliveryRow, skip_locked=True)  # type: ignore[arg-type]
            candidates = session.exec(due).all()
            if not candidates:
                session.rollback()
                return []
            deliveries = table_of(DeliveryRow)
            taken = set(
                session.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([d.id for d, _ in candidates]), self._due(now))
                    .values(status=DeliveryStatus.sending.value, lease_until=now + lease)
                    .returning(deliveries.c.id)
                ).scalars()
            )
            session.commit()
            claimed = [(d, s) for d, s in candidates if d.id in taken]
            for delivery, _ in claimed:  # as the rows now are (the objects were read before)
                delivery.status = DeliveryStatus.sending.value
                delivery.lease_until = now + lease
            return claimed

        return await self._run(work)

    async def next_due_at(self) -> datetime | None:
        def work(session: Session) -> datetime | None:
            return session.exec(
                select(DeliveryRow.next_attempt_at)
                .where(
                    DeliveryRow.status == DeliveryStatus.pending.value,
                    col(DeliveryRow.next_attempt_at).is_not(None),  # not held for a digest
                )
                .order_by(col(DeliveryRow.next_attempt_at))
                .limit(1)
            ).first()

        return await self._run(work)

    async def postpone(self, delivery_ids: Sequence[str], until: datetime) -> None:
        """Hand claimed deliveries back unattempted, due again at ``until``."""

        def work(session: Session) -> None:
            session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.id).in_(list(delivery_ids)))
                .values(
                    status=DeliveryStatus.pending.value, next_attempt_at=until, lease_until=None
                )
            )
            session.commit()

        if delivery_ids:
            await self._run(work)

    async def record_attempts(
        self,
        results: Sequence[AttemptResult],
        health: Sequence[SubscriptionHealth],
        now: datetime,
        disable_after: timedelta,
    ) -> list[str]:
        """Write attempts, advance their deliveries, and keep subscriptions' health.

        Returns the ids of the subscriptions disabled by this round.
        """

        def work(session: Session) -> list[str]:
            _write_attempts(session, results)
            disabled = _keep_health(session, health, now, disable_after)
            session.commit()
            return disabled

        return await self._run(work)


def _write_attempts(session: Session, results: Sequence[AttemptResult]) -> None:
    """Each attempt's row, and its delivery advanced: a statement for all of them, not a
    load, an update and an insert per attempt."""
    if not results:
        return
    deliveries = table_of(DeliveryRow)
    attempts: dict[str, int] = dict(
        session.execute(  # type: ignore[arg-type]
            core_select(deliveries.c.id, deliveries.c.attempts).where(
                deliveries.c.id.in_({r.delivery_id for r in results})
            )
        ).all()
    )
    advanced: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for result in results:
        if result.delivery_id not in attempts:
            continue  # gone meanwhile
        attempts[result.delivery_id] += 1
        number = attempts[result.delivery_id]
        rows.append(
            {
                "delivery_id": result.delivery_id,
                "subscription_id": result.subscription_id,
                "message_id": result.message_id,
                "number": number,
                "started_at": result.started_at,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "outcome": result.outcome,
                "error": result.error,
                "batch_size": result.batch_size,
            }
        )
        advanced.append({"b_id": result.delivery_id, "b_attempts": number, **_advance(result)})
    if not rows:
        return
    session.execute(insert(table_of(AttemptRow)), rows)
    session.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(
            attempts=bindparam("b_attempts"),
            last_status_code=bindparam("b_status_code"),
            last_latency_ms=bindparam("b_latency_ms"),
            last_error=bindparam("b_error"),
            lease_until=None,
            status=bindparam("b_status"),
            # Set when delivered; as it was otherwise.
            delivered_at=func.coalesce(
                bindparam("b_delivered_at", type_=UTCDateTime()), deliveries.c.delivered_at
            ),
            next_attempt_at=bindparam("b_next_attempt_at"),
            step=deliveries.c.step + bindparam("b_steps"),
        ),
        advanced,
    )


def _advance(result: AttemptResult) -> dict[str, Any]:
    """Where an attempt leaves its delivery: delivered, pending again (a step further on
    the retry schedule, unless the receiver only asked us to wait), or failed."""
    common = {
        "b_status_code": result.status_code,
        "b_latency_ms": result.latency_ms,
        "b_error": result.error,
    }
    if result.outcome == "delivered":
        status, delivered_at, next_at, steps = (
            DeliveryStatus.delivered.value,
            result.started_at,
            None,
            0,
        )
    elif result.outcome == "retry" and result.next_attempt_at is not None:
        status, delivered_at, next_at, steps = (
            DeliveryStatus.pending.value,
            None,
            result.next_attempt_at,
            1 if result.burns_step else 0,
        )
    else:
        status, delivered_at, next_at, steps = DeliveryStatus.failed.value, None, None, 0
    return {
        **common,
        "b_status": status,
        "b_delivered_at": delivered_at,
        "b_next_attempt_at": next_at,
        "b_steps": steps,
    }


def _keep_health(
    session: Session,
    health: Sequence[SubscriptionHealth],
    now: datetime,
    disable_after: timedelta,
) -> list[str]:
    """Subscriptions' failing-since after a round, and those it disables (returned)."""
    disabled: list[str] = []
    if not health:
        return disabled
    # Most rounds only confirm that healthy subscriptions stay healthy: one SELECT says
    # which are failing, and only a subscription whose standing may change is loaded.
    subscriptions = table_of(SubscriptionRow)
    failing_since = dict(
        session.execute(  # type: ignore[arg-type]
            core_select(subscriptions.c.id, subscriptions.c.failing_since).where(
                subscriptions.c.id.in_({standing.subscription_id for standing in health})
            )
        ).all()
    )
    loaded: set[str] = set()
    for standing in health:
        ident = standing.subscription_id
        if ident not in failing_since:
            continue  # deleted meanwhile
        if standing.succeeded and failing_since[ident] is None and ident not in loaded:
            continue  # healthy, and stays so
        subscription = session.get(SubscriptionRow, ident)
        if subscription is None:
            continue
        loaded.add(ident)
        before = (subscription.failing_since, subscription.enabled)
        if standing.succeeded:
            subscription.failing_since = None
        else:
            subscription.failing_since = subscription.failing_since or now
            reason = standing.disable_reason
            if reason is None and now - subscription.failing_since >= disable_after:
                reason = (
                    f"endpoint failing since {subscription.failing_since.isoformat()}"
                    f"; last error: {standing.last_error or 'unknown'}"
                )
            if reason is not None and subscription.enabled:
                subscription.enabled = False
                subscription.disabled_reason = reason
                disabled.append(subscription.id)
        if (subscription.failing_since, subscription.enabled) != before:
            # Only a change of standing is an update: the bureau's page shows when its
            # subscription last changed, and the intake keeps its parsed filters until then.
            subscription.updated_at = now
            session.add(subscription)
    return disabled


def filters_json(filters: dict[str, Any]) -> str:
    return json.dumps(filters, ensure_ascii=False, sort_keys=True)
