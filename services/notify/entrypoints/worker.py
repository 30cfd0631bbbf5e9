"""The delivery worker: claims due deliveries, sends them, and writes down what happened.

It runs as a task beside the consumer. The consumer wakes it when it records new
deliveries, so an alert leaves within milliseconds; otherwise it looks for due retries
every ``poll_seconds``. All scheduling reads the injectable clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import ValidationError

from services.common import tracing
from services.notify.adapters.repository import (
    AttemptResult,
    NotifyRepository,
    SubscriptionHealth,
)
from services.notify.adapters.sealing import SecretBox, SecretUnreadable
from services.notify.adapters.sending import Senders, SendOutcome, Target
from services.notify.adapters.tables import DeliveryRow, SubscriptionRow
from services.notify.channels import CHANNEL_TABLE, ChannelSpec, spec_of
from services.notify.domain.digest import WINDOW, plan_robot_sends
from services.notify.domain.models import Alert
from services.notify.domain.robots import message_id_for, robot_key
from services.notify.domain.schedule import Clock, RetrySchedule
from services.notify.entrypoints.digests import DigestJob, Notices
from services.notify.metrics import (
    CHANGE_TO_DELIVERY_SECONDS,
    DELIVERIES_PENDING,
    DELIVERIES_POSTPONED,
    DIGESTS_SENT,
    MESSAGES_SENT,
    SEND_SECONDS,
    SUBSCRIPTIONS_DISABLED,
    WORKER_UP,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    poll_seconds: float = 0.5
    batch: int = 200
    concurrency: int = 16
    lease: timedelta = timedelta(minutes=5)
    disable_after: timedelta = timedelta(hours=72)
    #: The operator's cap on messages a minute to one robot, below each robot channel's own
    #: budget (its ``RobotLimits.per_minute``).
    robot_limit: int = 20


class DeliveryWorker:
    def __init__(
        self,
        repository: NotifyRepository,
        senders: Senders,
        clock: Clock,
        *,
        box: SecretBox,
        schedule: RetrySchedule | None = None,
        options: WorkerOptions | None = None,
        rng: random.Random | None = None,
        notices: Notices | None = None,
        digests: DigestJob | None = None,
    ) -> None:
        self.repository = repository
        self.senders = senders
        self.clock = clock
        self.box = box
        self.schedule = schedule or RetrySchedule()
        self.options = options or WorkerOptions()
        self.rng = rng or random.Random()
        #: Tells a bureau's contact about a disabled endpoint; sends e-mail digests.
        self.notices = notices
        self.digests = digests
        #: Robots (by ``robot_key``) that answered "rate limited", until when they block.
        self._blocked_until: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._gate = asyncio.Semaphore(self.options.concurrency)
        self.rounds = 0

    # --- running ------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="delivery-worker")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            except Exception:
                log.exception("delivery worker ended with an error")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        WORKER_UP.set(1)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    handled = await self.run_once()
                    if self.digests is not None:
                        await self.digests.run_if_due()
                    DELIVERIES_PENDING.set(await self.repository.count_open())
                except Exception:
                    # The database may be restarting: keep the loop, try again shortly.
                    log.exception("delivery round failed")
                    handled = 0
                if handled == 0 and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.options.poll_seconds)
        finally:
            WORKER_UP.set(0)

    # --- one round ----------------------------------------------------------------

    async def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were claimed."""
        now = self.clock.now()
        claimed = await self.repository.claim_due(now, self.options.batch, self.options.lease)
        if not claimed:
            return 0
        self.rounds += 1
        by_subscription: dict[str, list[DeliveryRow]] = defaultdict(list)
        subscriptions: dict[str, SubscriptionRow] = {}
        for delivery, subscription in claimed:
            by_subscription[subscription.id].append(delivery)
            subscriptions[subscription.id] = subscription
        # Subscriptions posting to one robot share its budget: they are served one after
        # the other, each counting the messages the previous ones sent.
        lanes: dict[str, list[str]] = defaultdict(list)
        for sid, subscription in subscriptions.items():
            spec = CHANNEL_TABLE.get(subscription.channel)
            robot = spec is not None and spec.robot is not None
            lanes[robot_key(subscription.url) if robot else sid].append(sid)

        async def lane(sids: list[str]) -> None:
            for sid in sids:
                await self._serve(subscriptions[sid], by_subscription[sid])

        await asyncio.gather(*(lane(sids) for sids in lanes.values()))
        return len(claimed)

    async def _serve(self, subscription: SubscriptionRow, deliveries: list[DeliveryRow]) -> None:
        contexts = {d.id: d.trace_context for d in deliveries}
        try:
            channel = subscription.channel
            try:
                spec = spec_of(channel)
                secret = self.box.open(subscription.secret_sealed)
            except (SecretUnreadable, LookupError) as exc:
                # A key went missing from NOTIFY_SECRETS_KEY, or the subscription's channel
                # from this build (a rollback): retried on the schedule, so the alerts go
                # out once the key or the channel is back.
                log.error("subscription %s: %s", subscription.id, exc)
                unsent = Target(subscription.id, channel, subscription.url, None)
                outcome = SendOutcome(False, None, 0.0, str(exc))
                now = self.clock.now()
                await self._record(
                    subscription,
                    [self._result(d, unsent, outcome, now, d.id, 1) for d in deliveries],
                    contexts,
                )
                return
            target = Target(
                subscription.id,
                channel,
                subscription.url,
                secret,
                self._previous_secret(subscription),
            )
            alerts: list[Alert] = []
            readable: list[DeliveryRow] = []
            results: list[AttemptResult] = []
            for delivery in deliveries:
                try:
                    alerts.append(Alert.model_validate_json(delivery.payload))
                    readable.append(delivery)
                except ValidationError as exc:
                    results.append(self._unreadable(delivery, exc))
            if spec.robot is not None:
                results += await self._serve_robot(spec, target, readable, alerts)
            else:
                # Alliances in parallel; the alerts about one alliance in their order.
                chains: dict[str, list[tuple[DeliveryRow, Alert]]] = defaultdict(list)
                for delivery, alert in zip(readable, alerts, strict=True):
                    chains[delivery.alliance_id].append((delivery, alert))
                sent = await asyncio.gather(*(self._send_chain(target, c) for c in chains.values()))
                results += [r for chain in sent for r in chain]
            await self._record(subscription, results, contexts)
        except Exception:
            log.exception("serving subscription %s failed", subscription.id)

    def _previous_secret(self, subscription: SubscriptionRow) -> str | None:
        """The rotated-out secret while its overlap lasts (by the injectable clock)."""
        until = subscription.previous_secret_until
        if subscription.previous_secret_sealed is None or until is None:
            return None
        if self.clock.now() >= until:
            return None
        try:
            return self.box.open(subscription.previous_secret_sealed)
        except SecretUnreadable as exc:
            # The new secret still signs: the delivery goes out, with its one signature.
            log.error("subscription %s: previous secret: %s", subscription.id, exc)
            return None

    async def _send_chain(
        self, target: Target, chain: list[tuple[DeliveryRow, Alert]]
    ) -> list[AttemptResult]:
        results: list[AttemptResult] = []
        for delivery, alert in chain:
            results += await self._send(target, [delivery], [alert], delivery.id)
        return results

    async def _serve_robot(
        self, spec: ChannelSpec, target: Target, deliveries: list[DeliveryRow], alerts: list[Alert]
    ) -> list[AttemptResult]:
        """A group robot's deliveries, within its budget (its channel's entry, capped by the
        operator's ``robot_limit``), folded into digests when a burst would not fit."""
        if not deliveries or spec.robot is None or spec.max_bytes is None:
            return []  # (an entry with robot limits has max_bytes: ChannelSpec checks)
        now = self.clock.now()
        robot = robot_key(target.url)
        blocked = self._blocked_until.get(robot)
        if blocked is not None and blocked > now:
            # The robot blocked us (rate limited): nothing goes until the block is over.
            DELIVERIES_POSTPONED.inc(len(deliveries))
            await self.repository.postpone([d.id for d in deliveries], blocked)
            return []
        recent = await self.repository.robot_sends(target.channel, target.url, now - WINDOW)
        plan = plan_robot_sends(
            alerts,
            recent,
            now,
            max_bytes=spec.max_bytes,
            limit=min(spec.robot.per_minute, self.options.robot_limit),
            fold=spec.robot.fold_digests,
        )
        if plan.postponed and plan.resume_at is not None:
            DELIVERIES_POSTPONED.inc(len(plan.postponed))
            await self.repository.postpone(
                [deliveries[i].id for i in plan.postponed], plan.resume_at
            )
        results: list[AttemptResult] = []
        for number, group in enumerate(plan.messages):
            # One at a time: a robot counts messages, and order reads better in a group chat.
            message_id = message_id_for([deliveries[i].id for i in group])
            if len(group) > 1:
                DIGESTS_SENT.inc()
            sent = await self._send(
                target, [deliveries[i] for i in group], [alerts[i] for i in group], message_id
            )
            results += sent
            if any(r.outcome == "gone" for r in sent):
                rest = [i for g in plan.messages[number + 1 :] for i in g]
                await self.repository.postpone([deliveries[i].id for i in rest], now)
                break  # the robot is gone: the rest wait (the subscription is disabled)
            throttled = [r.next_attempt_at for r in sent if not r.burns_step]
            if throttled and throttled[0] is not None:
                self._blocked_until[robot] = throttled[0]
                rest = [i for g in plan.messages[number + 1 :] for i in g]
                await self.repository.postpone([deliveries[i].id for i in rest], throttled[0])
                break
        return results

    async def _send(
        self,
        target: Target,
        deliveries: Sequence[DeliveryRow],
        alerts: Sequence[Alert],
        message_id: str,
    ) -> list[AttemptResult]:
        async with self._gate:
            started = self.clock.now()
            with _attempt_span(target, deliveries, message_id) as span:
                try:
                    outcome = await self.senders[target.channel].send(target, alerts, message_id)
                except Exception as exc:  # a sender bug must not lose the delivery
                    log.exception("sender for %s raised", target.channel)
                    outcome = SendOutcome(False, None, 0.0, f"internal error: {exc}")
                if outcome.status_code is not None:
                    span.set_attribute("http.response.status_code", outcome.status_code)
                if not outcome.ok:
                    span.set_status(Status(StatusCode.ERROR, outcome.error or "not delivered"))
        SEND_SECONDS.labels(target.channel).observe((outcome.latency_ms or 0) / 1000)
        results: list[AttemptResult] = []
        for delivery, alert in zip(deliveries, alerts, strict=True):
            result = self._result(delivery, target, outcome, started, message_id, len(alerts))
            MESSAGES_SENT.labels(target.channel, result.outcome).inc()
            if result.outcome == "delivered":
                lag = (datetime.now(UTC) - alert.occurred_at).total_seconds()
                CHANGE_TO_DELIVERY_SECONDS.labels(target.channel).observe(max(0.0, lag))
            results.append(result)
        return results

    def _result(
        self,
        delivery: DeliveryRow,
        target: Target,
        outcome: SendOutcome,
        started: datetime,
        message_id: str,
        batch_size: int,
    ) -> AttemptResult:
        next_at = None
        burns_step = True
        if outcome.ok:
            kind = "delivered"
        elif (
            outcome.throttled
            and self.clock.now() - delivery.created_at < self.options.disable_after
        ):
            # The receiver said "too fast": wait out its block, on no step of the schedule
            # (for as long as an endpoint may fail; a robot throttling us for days then
            # runs out the schedule like any failing endpoint).
            kind, burns_step = "retry", False
            next_at = self.clock.now() + (outcome.retry_after or WINDOW)
        elif outcome.gone:
            kind = "gone"
        elif outcome.permanent:
            kind = "failed"  # at once: no retry can mend it, so none is scheduled
        else:
            next_at = self.schedule.next_attempt(
                self.clock.now(), delivery.step + 1, outcome.retry_after, self.rng
            )
            kind = "retry" if next_at is not None else "failed"
        return AttemptResult(
            delivery_id=delivery.id,
            subscription_id=target.subscription_id,
            message_id=message_id,
            started_at=started,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            outcome=kind,
            error=outcome.error,
            next_attempt_at=next_at,
            batch_size=batch_size,
            burns_step=burns_step,
        )

    def _unreadable(self, delivery: DeliveryRow, exc: ValidationError) -> AttemptResult:
        return AttemptResult(
            delivery_id=delivery.id,
            subscription_id=delivery.subscription_id,
            message_id=delivery.id,
            started_at=self.clock.now(),
            status_code=None,
            latency_ms=None,
            outcome="failed",
            error=f"stored alert unreadable: {exc.error_count()} errors",
            next_attempt_at=None,
        )

    async def _record(
        self,
        subscription: SubscriptionRow,
        results: list[AttemptResult],
        contexts: Mapping[str, str | None],
    ) -> None:
        """``contexts``: each delivery's stored trace context, for its log line."""
        if not results:
            return
        gone = next((r for r in results if r.outcome == "gone"), None)
        health = SubscriptionHealth(
            subscription.id,
            succeeded=gone is None and any(r.outcome == "delivered" for r in results),
            disable_reason=(
                f"endpoint gone ({gone.error}) at {gone.started_at.isoformat()}" if gone else None
            ),
            last_error=results[-1].error,
        )
        # Waiting out a robot's rate limit is no sign of a failing endpoint.
        waiting = all(not r.burns_step for r in results)
        disabled = await self.repository.record_attempts(
            results, [] if waiting else [health], self.clock.now(), self.options.disable_after
        )
        for result in results:
            # One line per attempt, so an alert can be followed from its change to its end;
            # it carries the trace id of the change.
            with tracing.resumed(contexts.get(result.delivery_id)):
                log.log(
                    logging.WARNING if result.outcome == "failed" else logging.INFO,
                    "delivery attempt %s (status %s, %s ms)%s",
                    result.outcome,
                    result.status_code,
                    result.latency_ms,
                    f": {result.error}" if result.error else "",
                    extra={"delivery_id": result.delivery_id},
                )
        for subscription_id in disabled:
            SUBSCRIPTIONS_DISABLED.inc()
            log.warning("subscription %s disabled", subscription_id)
            if self.notices is not None:
                await self.notices.disabled(subscription_id)


def _attempt_span(
    target: Target, deliveries: Sequence[DeliveryRow], message_id: str
) -> contextlib.AbstractContextManager[Span]:
    """``deliver <channel>``: one attempt, in the trace of the (first) change it carries;
    a digest links the traces of the other changes in it."""
    links = [
        link
        for delivery in deliveries[1:]
        if (link := tracing.link_to(delivery.trace_context)) is not None
    ]
    return tracing.tracer().start_as_current_span(
        f"deliver {target.channel}",
        context=tracing.context_from_carrier(deliveries[0].trace_context),
        kind=SpanKind.CLIENT,
        links=links,
        attributes={
            "notify.channel": target.channel,
            "notify.subscription_id": target.subscription_id,
            "notify.message_id": message_id,
            "notify.delivery_ids": [d.id for d in deliveries],
            "notify.attempt": max(d.attempts for d in deliveries) + 1,
        },
    )
