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
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from services.notify.domain.models import Alert, AlertType
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


class Turn:
    """A place in the order of sends of one key: its sends wait for the turn before it,
    which ends with its round (sent and recorded), whatever happened in it."""

    def __init__(
        self, turns: Turns, key: tuple[str, str], before: asyncio.Future[None] | None
    ) -> None:
        self._turns = turns
        self._key = key
        self._before = before
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        if self._before is not None and not self._before.done():
            # asyncio.wait: a cancelled waiter leaves the turn before it alone.
            await asyncio.wait([self._before])

    def release(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self._turns.forget(self._key, self.done)


class Turns:
    """The sends of one key (an endpoint and an alliance; a robot) in the order their
    rounds were claimed, across the rounds in flight: each waits for the one before."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], asyncio.Future[None]] = {}

    def take(self, key: tuple[str, str]) -> Turn:
        turn = Turn(self, key, self._last.get(key))
        self._last[key] = turn.done
        return turn

    def forget(self, key: tuple[str, str], done: asyncio.Future[None]) -> None:
        if self._last.get(key) is done:
            del self._last[key]  # nobody queued behind it: the key needs no entry


@dataclass
class Served:
    """One subscription's part of a round, and what its attempts came to."""

    subscription: SubscriptionRow
    deliveries: list[DeliveryRow]
    #: A webhook's (any channel but a robot's) deliveries by alliance, in claim order.
    chains: dict[str, list[DeliveryRow]] = field(default_factory=lambda: defaultdict(list))
    #: Each chain's turn.
    turns: dict[str, Turn] = field(default_factory=dict)
    results: list[AttemptResult] = field(default_factory=list)
    #: Deliveries handed back unsent (their subscription was disabled meanwhile).
    handed_back: list[str] = field(default_factory=list)


@dataclass
class Round:
    """The deliveries one claim took, planned: robots' lanes and other endpoints."""

    number: int
    delivery_ids: list[str]
    #: Each robot's turn, and the subscriptions posting to it, served one after the other.
    robots: list[tuple[Turn, list[Served]]] = field(default_factory=list)
    endpoints: list[Served] = field(default_factory=list)

    def turns(self) -> Iterator[Turn]:
        for turn, _ in self.robots:
            yield turn
        for served in self.endpoints:
            yield from served.turns.values()


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
        #: Rounds claimed so far; the number of the latest.
        self.rounds = 0
        #: Rounds being sent (by ``run``), each a task.
        self._rounds: set[asyncio.Task[None]] = set()
        #: Claimed deliveries no sender has taken yet: how far ahead the worker claimed.
        self._unsent: set[str] = set()
        #: Set when ``_unsent`` falls below what can be sent at once: claim the next round.
        self._room = asyncio.Event()
        #: The order of the sends to one endpoint about one alliance, and to one robot.
        self._turns = Turns()
        #: Subscriptions a round disabled: (that round, the latest claimed then). The
        #: rounds between hand back what they hold for it instead of sending it.
        self._disabled: dict[str, tuple[int, int]] = {}
        self._counted_at = float("-inf")

    # --- running ------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="delivery-worker")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._room.set()
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
        """Claim and send, round after round. A round is claimed while the previous ones
        are still being sent, as soon as fewer of their deliveries wait for a sender than
        can be sent at once: a burst flows through the claims instead of going out in
        waves, and no more than a round (and what is in flight) waits under a lease."""
        WORKER_UP.set(1)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                claimed = 0
                try:
                    if self._has_room():
                        claimed = await self._start_round()
                    if self.digests is not None:
                        await self.digests.run_if_due()
                    await self._count_open()
                except Exception:
                    # The database may be restarting: keep the loop, try again shortly.
                    log.exception("delivery round failed")
                if self._stopping.is_set():
                    break
                if not self._has_room():
                    self._room.clear()
                    await self._room.wait()  # until a sender takes some (or we stop)
                elif claimed < self.options.batch:
                    # Everything due was claimed: wait for new deliveries or the next retry.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.options.poll_seconds)
        finally:
            # What was claimed goes out and is recorded before the worker ends (stop()
            # cancels it after a while: the leases then hand the rest to the next worker).
            if self._rounds:
                await asyncio.gather(*self._rounds, return_exceptions=True)
            WORKER_UP.set(0)

    def _has_room(self) -> bool:
        return len(self._unsent) < self.options.concurrency

    async def _start_round(self) -> int:
        claimed = await self._claim()
        if claimed:
            task = asyncio.create_task(self._deliver(self._plan(claimed)), name="delivery-round")
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)
        return len(claimed)

    async def _count_open(self) -> None:
        """The backlog gauge, at most once a poll interval (not at every round)."""
        now = time.monotonic()
        if now - self._counted_at >= self.options.poll_seconds:
            self._counted_at = now
            DELIVERIES_PENDING.set(await self.repository.count_open())

    # --- one round ----------------------------------------------------------------

    async def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were claimed."""
        claimed = await self._claim()
        if claimed:
            await self._deliver(self._plan(claimed))
        return len(claimed)

    async def _claim(self) -> list[tuple[DeliveryRow, SubscriptionRow]]:
        now = self.clock.now()
        claimed = await self.repository.claim_due(now, self.options.batch, self.options.lease)
        if claimed:
            self.rounds += 1
            self._unsent.update(delivery.id for delivery, _ in claimed)
        return claimed

    def _plan(self, claimed: list[tuple[DeliveryRow, SubscriptionRow]]) -> Round:
        """Who serves what in a round, each in its turn after the rounds claimed before
        (taken now, before anything else is claimed, so the turns follow the claims)."""
        by_subscription: dict[str, list[DeliveryRow]] = defaultdict(list)
        subscriptions: dict[str, SubscriptionRow] = {}
        for delivery, subscription in claimed:
            by_subscription[subscription.id].append(delivery)
            subscriptions[subscription.id] = subscription
        round_ = Round(self.rounds, [delivery.id for delivery, _ in claimed])
        # Subscriptions posting to one robot share its budget: they are served one after
        # the other, each counting the messages the previous ones sent, and the robot's
        # next round waits for this one.
        robots: dict[str, list[Served]] = defaultdict(list)
        for sid, subscription in subscriptions.items():
            spec = CHANNEL_TABLE.get(subscription.channel)
            served = Served(subscription, by_subscription[sid])
            if spec is not None and spec.robot is not None:
                robots[robot_key(subscription.url)].append(served)
            else:
                # Alliances in parallel; the alerts about one alliance in their order.
                for delivery in served.deliveries:
                    served.chains[delivery.alliance_id].append(delivery)
                served.turns = {
                    alliance_id: self._turns.take((sid, alliance_id))
                    for alliance_id in served.chains
                }
                round_.endpoints.append(served)
        for robot, lane in robots.items():
            round_.robots.append((self._turns.take(("robot", robot)), lane))
        return round_

    async def _deliver(self, round_: Round) -> None:
        """Send a round; the robots' attempts are recorded as each robot is served (its
        budget counts them), all the others' at the end, in one transaction."""
        try:
            await asyncio.gather(
                *(self._serve_robots(round_.number, turn, lane) for turn, lane in round_.robots),
                *(self._serve(round_.number, served) for served in round_.endpoints),
            )
            await self._record(round_.number, [s for s in round_.endpoints if s.results])
        except Exception:
            log.exception("delivery round failed")
        finally:
            for turn in round_.turns():
                turn.release()
            self._taken(round_.delivery_ids)

    def _taken(self, delivery_ids: Iterable[str]) -> None:
        """These claimed deliveries wait for a sender no longer (attempted or handed back)."""
        self._unsent.difference_update(delivery_ids)
        if self._has_room():
            self._room.set()

    def _stopped(self, number: int, subscription_id: str) -> bool:
        """Whether a round's deliveries to a subscription are to be handed back unsent: an
        earlier round disabled it after this one was claimed (test alerts go out anyway)."""
        window = self._disabled.get(subscription_id)
        return window is not None and window[0] < number <= window[1]

    async def _serve_robots(self, number: int, turn: Turn, lane: list[Served]) -> None:
        await turn.wait()
        for served in lane:
            await self._serve(number, served)
            try:
                await self._record(number, [served] if served.results else [])
            except Exception:
                # The others' attempts are still recorded; these wait for their lease.
                log.exception("recording subscription %s failed", served.subscription.id)

    async def _serve(self, number: int, served: Served) -> None:
        subscription, deliveries = served.subscription, served.deliveries
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
                served.results += [
                    self._result(d, unsent, outcome, now, d.id, 1) for d in deliveries
                ]
                return
            target = Target(
                subscription.id,
                channel,
                subscription.url,
                secret,
                self._previous_secret(subscription),
            )
            alerts: dict[str, Alert] = {}
            for delivery in deliveries:
                try:
                    alerts[delivery.id] = Alert.model_validate_json(delivery.payload)
                except ValidationError as exc:
                    served.results.append(self._unreadable(delivery, exc))
            if spec.robot is not None:
                await self._serve_robot(number, spec, target, served, alerts)
            else:
                sent = await asyncio.gather(
                    *(
                        self._send_chain(number, target, served, alliance_id, alerts)
                        for alliance_id in served.chains
                    )
                )
                served.results += [r for chain in sent for r in chain]
            if served.handed_back:
                await self.repository.postpone(served.handed_back, self.clock.now())
        except Exception:
            log.exception("serving subscription %s failed", subscription.id)

    def _hand_back(self, number: int, served: Served, deliveries: list[DeliveryRow]) -> bool:
        """Whether to hand the deliveries back unsent: their subscription was disabled by
        a round recorded after theirs was claimed. A test alert goes out anyway (as the
        claim lets it)."""
        if not self._stopped(number, served.subscription.id):
            return False
        if any(d.type == AlertType.test.value for d in deliveries):
            return False
        served.handed_back += [d.id for d in deliveries]
        return True

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
        self,
        number: int,
        target: Target,
        served: Served,
        alliance_id: str,
        alerts: Mapping[str, Alert],
    ) -> list[AttemptResult]:
        """The alerts about one alliance to one endpoint, in their order, once the rounds
        claimed before with alerts about it to it are over (sent and recorded: as if
        there had been one round at a time)."""
        results: list[AttemptResult] = []
        await served.turns[alliance_id].wait()
        for delivery in served.chains[alliance_id]:
            alert = alerts.get(delivery.id)
            if alert is None or self._hand_back(number, served, [delivery]):
                continue
            results += await self._send(target, [delivery], [alert], delivery.id)
        return results

    async def _serve_robot(
        self,
        number: int,
        spec: ChannelSpec,
        target: Target,
        served: Served,
        readable: Mapping[str, Alert],
    ) -> None:
        """A group robot's deliveries, within its budget (its channel's entry, capped by the
        operator's ``robot_limit``), folded into digests when a burst would not fit."""
        deliveries = [d for d in served.deliveries if d.id in readable]
        if self._hand_back(number, served, deliveries):
            return
        served.results += await self._send_robot(spec, target, deliveries, readable)

    async def _send_robot(
        self,
        spec: ChannelSpec,
        target: Target,
        deliveries: list[DeliveryRow],
        readable: Mapping[str, Alert],
    ) -> list[AttemptResult]:
        if not deliveries or spec.robot is None or spec.max_bytes is None:
            return []  # (an entry with robot limits has max_bytes: ChannelSpec checks)
        alerts = [readable[d.id] for d in deliveries]
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
            self._taken(d.id for d in deliveries)
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

    async def _record(self, number: int, served: Sequence[Served]) -> None:
        """The attempts of the subscriptions served, and each one's health, in one
        transaction; then one log line per attempt (in the trace of its change)."""
        if not served:
            return
        results = [r for s in served for r in s.results]
        # Waiting out a robot's rate limit is no sign of a failing endpoint.
        health = [_health(s) for s in served if not all(not r.burns_step for r in s.results)]
        disabled = await self.repository.record_attempts(
            results, health, self.clock.now(), self.options.disable_after
        )
        contexts = {d.id: d.trace_context for s in served for d in s.deliveries}
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
            # The rounds claimed since this one hand back what they hold for it.
            self._disabled[subscription_id] = (number, self.rounds)
            SUBSCRIPTIONS_DISABLED.inc()
            log.warning("subscription %s disabled", subscription_id)
            if self.notices is not None:
                await self.notices.disabled(subscription_id)


def _health(served: Served) -> SubscriptionHealth:
    """A subscription's standing after its attempts of a round."""
    results = served.results
    gone = next((r for r in results if r.outcome == "gone"), None)
    return SubscriptionHealth(
        served.subscription.id,
        succeeded=gone is None and any(r.outcome == "delivered" for r in results),
        disable_reason=(
            f"endpoint gone ({gone.error}) at {gone.started_at.isoformat()}" if gone else None
        ),
        last_error=results[-1].error,
    )


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
