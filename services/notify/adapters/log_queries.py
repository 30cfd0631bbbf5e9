"""A bureau's delivery log: listing, one delivery with its attempts, redelivery, replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from services.notify.adapters.store import Store
from services.notify.adapters.tables import AttemptRow, DeliveryRow, SubscriptionRow
from services.notify.domain.models import DeliveryStatus


class DeliveryLogQueries(Store):
    async def list_deliveries(
        self,
        bureau_id: str,
        *,
        subscription_id: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[DeliveryRow]:
        """Newest first; ``after`` is the id of the last one of the previous page."""

        def work(session: Session) -> list[DeliveryRow]:
            query = select(DeliveryRow).where(DeliveryRow.bureau_id == bureau_id)
            if subscription_id is not None:
                query = query.where(DeliveryRow.subscription_id == subscription_id)
            if status is not None:
                query = query.where(DeliveryRow.status == status)
            if after is not None:
                query = query.where(col(DeliveryRow.id) < after)
            return list(session.exec(query.order_by(col(DeliveryRow.id).desc()).limit(limit)))

        return await self._run(work)

    async def get_delivery(
        self, bureau_id: str, delivery_id: str
    ) -> tuple[DeliveryRow, list[AttemptRow]] | None:
        def work(session: Session) -> tuple[DeliveryRow, list[AttemptRow]] | None:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or row.bureau_id != bureau_id:
                return None
            attempts = list(
                session.exec(
                    select(AttemptRow)
                    .where(AttemptRow.delivery_id == delivery_id)
                    .order_by(col(AttemptRow.number))
                )
            )
            return row, attempts

        return await self._run(work)

    async def redeliver(
        self, bureau_id: str, delivery_id: str, now: datetime
    ) -> DeliveryRow | None:
        """Due again now, with a fresh retry schedule; its log is kept."""

        def work(session: Session) -> DeliveryRow | None:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or row.bureau_id != bureau_id:
                return None
            row.status = DeliveryStatus.pending.value
            row.step = 0
            row.next_attempt_at = now
            row.lease_until = None
            session.add(row)
            session.commit()
            return row

        return await self._run(work)

    async def add_delivery(self, row: DeliveryRow) -> None:
        def work(session: Session) -> None:
            session.add(row)
            session.commit()

        await self._run(work)

    async def replay(
        self,
        bureau_id: str,
        *,
        since: datetime,
        until: datetime,
        subscription_id: str | None,
        statuses: Sequence[str],
        now: datetime,
        limit: int,
    ) -> tuple[int, datetime | None]:
        """Make the bureau's deliveries created in ``[since, until)`` with one of
        ``statuses``, of live and enabled subscriptions, due again now on a fresh schedule,
        oldest first and at most ``limit`` of them. Returns how many, and the creation time
        of the first one left over (None when none is)."""

        def work(session: Session) -> tuple[int, datetime | None]:
            query = (
                select(DeliveryRow.id, DeliveryRow.created_at)
                .join(SubscriptionRow, col(SubscriptionRow.id) == col(DeliveryRow.subscription_id))
                .where(
                    col(DeliveryRow.bureau_id) == bureau_id,
                    col(DeliveryRow.created_at) >= since,
                    col(DeliveryRow.created_at) < until,
                    col(DeliveryRow.status).in_(list(statuses)),
                    col(SubscriptionRow.enabled).is_(True),
                    col(SubscriptionRow.deleted_at).is_(None),
                )
            )
            if subscription_id is not None:
                query = query.where(col(DeliveryRow.subscription_id) == subscription_id)
            rows = session.exec(
                query.order_by(col(DeliveryRow.created_at), col(DeliveryRow.id)).limit(limit + 1)
            ).all()
            chosen = [ident for ident, _ in rows[:limit]]
            left_over = rows[limit][1] if len(rows) > limit else None
            if not chosen:
                return 0, left_over
            result = session.execute(
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.id).in_(chosen),
                    col(DeliveryRow.status).in_(list(statuses)),  # not taken meanwhile
                )
                .values(
                    status=DeliveryStatus.pending.value,
                    step=0,
                    next_attempt_at=now,
                    lease_until=None,
                )
            )
            session.commit()
            return int(result.rowcount), left_over  # type: ignore[attr-defined]

        return await self._run(work)

    async def delivery_counts(self) -> dict[str, int]:
        def work(session: Session) -> dict[str, int]:
            rows = session.exec(
                select(DeliveryRow.status, func.count()).group_by(col(DeliveryRow.status))
            ).all()
            return {status: int(count) for status, count in rows}

        return await self._run(work)
