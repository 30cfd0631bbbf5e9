"""Changes from the registry into deliveries: who hears of each change, as what alert,
with which highlights; one change at a time or a fetch of them in one transaction.

``NotifyService`` takes these use cases from :class:`ChangeIntake`; they need only its
repository, clock and the wake-up of the delivery worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from services.common import tracing
from services.common.contracts import Alliance, AllianceChange, ChangeKind
from services.common.errors import PoisonError
from services.notify.adapters.repository import NotifyRepository, new_id
from services.notify.adapters.tables import NewDelivery, SubscriptionRow
from services.notify.domain.matching import (
    Matcher,
    compile_filters,
    facts_of,
    is_alert_worthy,
    matches,
)
from services.notify.domain.models import Alert, AlertType, DeliveryStatus, Filters
from services.notify.domain.periods import Cadence
from services.notify.domain.rendering import (
    describe_changes,
    describe_corrections,
    retraction_highlights,
)
from services.notify.domain.schedule import Clock
from services.notify.metrics import ALERTS_CREATED, CHANGES_RECEIVED

log = logging.getLogger(__name__)

#: Longest ids the tables hold; a change with longer ones can never be stored.
_MAX_ID = 128
FIRST_MATCH_NOTE = "该医联体首次符合本订阅的条件"
#: To a subscription an analyst's correction brought the alliance to (never told of it
#: before): the alliance is new to it, so it comes as ``alliance.created`` with this note.
CORRECTED_INTO_NOTE = "经人工审核更正后，该医联体符合本订阅的条件（此前未曾推送）"


class ChangeIntake:
    """The change-receiving use cases, mixed into ``NotifyService``."""

    repository: NotifyRepository
    clock: Clock
    on_new_deliveries: Callable[[], None] | None
    _filter_cache: dict[str, tuple[tuple[str, str], Matcher]]

    def _matcher(self, subscription: SubscriptionRow) -> Matcher | None:
        """A subscription's filters, parsed once per version of the subscription."""
        key = (subscription.id, subscription.updated_at.isoformat())
        cached = self._filter_cache.get(subscription.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            matcher = compile_filters(Filters.model_validate_json(subscription.filters))
        except ValidationError:
            log.error("subscription %s has unreadable filters", subscription.id)
            return None
        if len(self._filter_cache) > 100_000:
            self._filter_cache.clear()
        self._filter_cache[subscription.id] = (key, matcher)
        return matcher

    def _recipients(
        self,
        change: AllianceChange,
        previous: Alliance | None,
        subscriptions: list[SubscriptionRow],
        told: set[str],
    ) -> list[tuple[SubscriptionRow, AlertType, tuple[str, ...]]]:
        """Who hears of a change, as what, with which highlights (``subscriptions``: the
        enabled ones; ``told``: those already alerted of this alliance).

        - created: the subscriptions whose filters it matches;
        - retracted (an analyst rejected it or merged it away): only those told of it,
          whatever their filters say now, and nobody else;
        - corrected by an analyst: those told of it (``经人工审核更正`` and what changed),
          and those whose filters the corrected alliance now matches, which hear of it
          for the first time, as ``alliance.created`` with ``CORRECTED_INTO_NOTE``;
        - otherwise updated: the matching subscriptions when the change is material; else
          only those that never heard of it and match now (``FIRST_MATCH_NOTE``).
        """
        if change.kind is ChangeKind.retracted:
            reason = retraction_highlights(change)
            return [(s, AlertType.retracted, reason) for s in subscriptions if s.id in told]
        facts = facts_of(change.alliance)
        concerned = [
            s for s in subscriptions if (m := self._matcher(s)) is not None and matches(m, facts)
        ]
        if change.kind is ChangeKind.created:
            return [(s, AlertType.created, ()) for s in concerned]
        if change.by_review:
            corrections = describe_corrections(change, previous)
            newcomers = {s.id for s in concerned} - told
            return [
                (s, AlertType.updated, corrections)
                if s.id in told
                else (s, AlertType.created, (CORRECTED_INTO_NOTE,))
                for s in subscriptions
                if s.id in told or s.id in newcomers
            ]
        if is_alert_worthy(change, previous):
            highlights = describe_changes(change, previous)
            return [(s, AlertType.updated, highlights) for s in concerned]
        # Not news in itself; but a subscription that never heard of this alliance (its
        # confidence just reached the subscription's minimum) hears now.
        return [(s, AlertType.updated, (FIRST_MATCH_NOTE,)) for s in concerned if s.id not in told]

    async def receive_change(self, change: AllianceChange, trace_context: str | None = None) -> int:
        """Record the change and one delivery per subscription it concerns; idempotent by
        ``change_id``. Returns the number of deliveries created. ``trace_context``: the
        trace the deliveries continue (the current span's when not given)."""
        _refuse_long_ids(change)
        seen, previous, subscriptions, told = await self.repository.change_context(change)
        if seen:
            CHANGES_RECEIVED.labels("duplicate").inc()
            return 0
        # Each attempt's span continues the trace of the change (the consumer's span).
        deliveries = self._deliveries(
            change, previous, subscriptions, told, trace_context or tracing.current_carrier()
        )
        # Received-at orders snapshots of one alliance: real time, whatever the clock says.
        fresh = await self.repository.record_change(change, datetime.now(UTC), deliveries)
        CHANGES_RECEIVED.labels("new" if fresh else "duplicate").inc()
        return self._created(len(deliveries) if fresh else 0)

    async def receive_changes(self, changes: Sequence[tuple[AllianceChange, str | None]]) -> int:
        """``receive_change`` for a batch, in order, read in one round trip and written in
        one transaction (each change with the trace context its deliveries continue).
        Raises ``PoisonError`` for the batch if one change is unusable."""
        for change, _ in changes:
            _refuse_long_ids(change)
        context = await self.repository.changes_context([c for c, _ in changes])
        received_at = datetime.now(UTC)
        kept: list[tuple[AllianceChange, datetime, Sequence[NewDelivery]]] = []
        for change, trace_context in changes:
            if change.change_id in context.seen:
                CHANGES_RECEIVED.labels("duplicate").inc()
                continue
            context.seen.add(change.change_id)
            told = context.told.setdefault(change.alliance_id, set())
            deliveries = self._deliveries(
                change,
                context.previous.get(change.alliance_id),
                context.subscriptions,
                told,
                trace_context,
            )
            # What the next change of the same alliance in this batch is compared with.
            context.previous[change.alliance_id] = change.alliance
            told.update(d.subscription_id for d in deliveries)
            kept.append((change, received_at, deliveries))
        if not kept:
            return 0
        if not await self.repository.record_changes(kept):
            # One was received meanwhile by a concurrent consumer: one at a time, then.
            created = 0
            for change, trace_context in changes:
                created += await self.receive_change(change, trace_context)
            return created
        CHANGES_RECEIVED.labels("new").inc(len(kept))
        return self._created(sum(len(deliveries) for _, _, deliveries in kept))

    def _created(self, count: int) -> int:
        if count:
            ALERTS_CREATED.inc(count)
            if self.on_new_deliveries is not None:
                self.on_new_deliveries()
        return count

    def _deliveries(
        self,
        change: AllianceChange,
        previous: Alliance | None,
        subscriptions: list[SubscriptionRow],
        told: set[str],
        trace_context: str | None,
    ) -> list[NewDelivery]:
        """One pending delivery per subscription the change concerns."""
        now = self.clock.now()
        deliveries: list[NewDelivery] = []
        # The subscriptions told the same thing share one alert: the alliance is written
        # out once per change, not once per subscription.
        payloads: dict[tuple[AlertType, tuple[str, ...]], str] = {}
        for subscription, alert_type, highlights in self._recipients(
            change, previous, subscriptions, told
        ):
            payload = payloads.get((alert_type, highlights))
            if payload is None:
                payload = payloads[alert_type, highlights] = Alert(
                    type=alert_type,
                    change_id=change.change_id,
                    changed_fields=change.changed_fields,
                    highlights=highlights,
                    alliance=change.alliance,
                    occurred_at=change.occurred_at,
                    by_review=change.by_review,
                    merged_into=change.merged_into,
                ).model_dump_json()
            deliveries.append(
                NewDelivery(
                    id=new_id("dlv"),
                    bureau_id=subscription.bureau_id,
                    subscription_id=subscription.id,
                    change_id=change.change_id,
                    alliance_id=change.alliance_id,
                    dedupe_key=f"{subscription.id}:{change.change_id}",
                    type=alert_type.value,
                    payload=payload,
                    status=DeliveryStatus.pending.value,
                    # A digest subscription's alerts are held (no attempt time) for its digest.
                    next_attempt_at=now
                    if subscription.cadence == Cadence.immediate.value
                    else None,
                    created_at=now,
                    trace_context=trace_context,
                )
            )
        return deliveries


def _refuse_long_ids(change: AllianceChange) -> None:
    if len(change.change_id) > _MAX_ID or len(change.alliance_id) > _MAX_ID:
        raise PoisonError("change_id / alliance_id longer than 128 characters")
