"""The consumer loop: validate, handle, dead-letter what cannot be handled, then commit.

Offsets are committed only for messages whose handling finished (handled, or safely in
the dead-letter topic), so a crash at any point means re-delivery, never loss; handlers
are idempotent by the message key, so re-delivery has no second effect.

A ``RetryableError`` (a database or broker away) is retried with a capped exponential
backoff for as long as it takes: a valid message is never dead-lettered because the world
was briefly wrong. The loop reports itself as retrying meanwhile (``retrying``, the
``kafka_handler_retrying`` gauge), and the service's ``/readyz`` says not ready. Only
invalid messages, ``PoisonError`` and unexpected errors (a bug: tried ``error_attempts``
times) are dead-lettered, and only under a :class:`DlqLimit`: past it the loop stops
(``halted``) instead of emptying a topic into its dead-letter twin because of a bug.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry import trace
from pydantic import ValidationError

from services.common import tracing
from services.common.contracts import Message, dlq_topic
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.metrics import (
    CONSUMER_HALTED,
    CONSUMER_LAG,
    HANDLER_RETRYING,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_FAILED,
    PROCESSING_SECONDS,
)
from services.common.kafka.publisher import BrokerUnavailable, Publisher
from services.common.kafka.records import Record, TopicPartition
from services.common.kafka.source import Source

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
Handler = Callable[[M, Record], Awaitable[None]]
#: Handles every valid message of one fetch at once (one database transaction, say): all
#: of them take effect, or none. A PoisonError or an unexpected error from it sends the
#: fetch through the one-message handler, so that only the message at fault is
#: dead-lettered; a RetryableError retries the whole batch.
BatchHandler = Callable[[Sequence[tuple[M, Record]]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

#: Header names on a dead-lettered message.
DLQ_REASON = "dlq.reason"
DLQ_ERROR = "dlq.error"
DLQ_ORIGIN_TOPIC = "dlq.origin.topic"
DLQ_ORIGIN_PARTITION = "dlq.origin.partition"
DLQ_ORIGIN_OFFSET = "dlq.origin.offset"
#: Every dead-letter header starts with it (a replay drops them all).
DLQ_HEADER_PREFIX = "dlq."
#: The ``dlq.reason`` of a message whose handler failed with an unexpected error (a bug)
#: ``error_attempts`` times.
REASON_ERROR = "error"
_MAX_ERROR_BYTES = 4096
FAILURE_KINDS = ("invalid", "poison", "retryable", "error")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff, capped at ``max_backoff_seconds``. A retryable failure is
    retried for as long as it takes; an unexpected error (a bug) ``error_attempts`` times
    in all before its message is dead-lettered; a failed commit that many times before it
    is left to re-delivery."""

    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 30.0
    error_attempts: int = 6

    def backoff(self, attempt: int) -> float:
        # The exponent is bounded: a retry that lasts for days must not overflow a float.
        return min(
            self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** min(attempt - 1, 64)
        )


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class DlqLimit:
    """At most ``max_dead_letters`` dead letters among the last ``window`` messages the
    loop finished (handled or dead-lettered). The dead letter that would pass it is not
    sent: the loop halts with that message uncommitted. ``max_dead_letters=0`` halts at
    the first message that would be dead-lettered."""

    max_dead_letters: int = 50
    window: int = 200


DEFAULT_DLQ_LIMIT = DlqLimit()


class DeadLetterLimitReached(Exception):
    """Dead-lettering one more message (``record``) would pass the :class:`DlqLimit`."""

    def __init__(self, detail: str, record: Record) -> None:
        super().__init__(detail)
        self.record = record


class _DlqWindow:
    """Outcomes of the last ``limit.window`` finished messages (True: dead-lettered)."""

    def __init__(self, limit: DlqLimit) -> None:
        self.limit = limit
        self._outcomes: deque[bool] = deque(maxlen=max(1, limit.window))
        self.dead = 0

    def would_pass(self) -> bool:
        """Whether one more dead letter would pass the limit."""
        dead = self.dead
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            dead -= 1  # the oldest outcome leaves the window as this one enters it
        return dead + 1 > self.limit.max_dead_letters

    def add(self, dead_lettered: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self.dead -= 1
        self._outcomes.append(dead_lettered)
        self.dead += dead_lettered


class _Stopped(Exception):
    """Stop was requested while a message waited for a retry; leave it uncommitted."""


class ConsumerLoop(Generic[M]):
    def __init__(
        self,
        source: Source,
        publisher: Publisher,
        model: type[M],
        handler: Handler[M],
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        dlq_limit: DlqLimit = DEFAULT_DLQ_LIMIT,
        sleep: Sleep = asyncio.sleep,
        fetch_timeout_seconds: float = 0.5,
        max_batch: int = 100,
        batch_handler: BatchHandler[M] | None = None,
    ) -> None:
        self._source = source
        self._publisher = publisher
        self._model = model
        self._handler = handler
        self._batch_handler = batch_handler
        self._retry = retry
        self._dlq = _DlqWindow(dlq_limit)
        self._sleep = sleep
        self._fetch_timeout = fetch_timeout_seconds
        self._max_batch = max_batch
        self._stopping = asyncio.Event()
        self.processed = 0
        #: The message in hand failed retryably and waits to be tried again.
        self.retrying = False
        #: Attempts at the message in hand that failed retryably, in a row (0: none).
        self.retry_attempts = 0
        #: The dead-letter limit stopped the loop; it stays stopped.
        self.halted = False
        self._lag_reported: set[TopicPartition] = set()
        for topic in source.topics:
            # Export zeros from the start, so the first failure shows up in increase().
            MESSAGES_CONSUMED.labels(topic)
            MESSAGES_DEAD_LETTERED.labels(topic)
            HANDLER_RETRYING.labels(topic).set(0)
            CONSUMER_HALTED.labels(topic).set(0)
            for kind in FAILURE_KINDS:
                MESSAGES_FAILED.labels(topic, kind)

    def request_stop(self) -> None:
        """Finish the message in hand (unless it is being retried: then leave it
        uncommitted at once), commit, and return from ``run``."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def consuming(self) -> bool:
        """Messages flow: none is stuck in retries and the loop has not halted."""
        return not self.retrying and not self.halted

    async def run(self) -> None:
        while not self.stopping:
            try:
                records = await self._source.fetch(self._fetch_timeout, self._max_batch)
            except RetryableError as exc:
                # The broker is away (restarting, electing): nothing was taken, so wait.
                log.warning("fetch failed, retrying: %s", exc)
                try:
                    await self._pause(1.0)
                except _Stopped:
                    break
                continue
            done: dict[TopicPartition, int] = {}
            try:
                batched = self._batch_handler is not None and len(records) > 1
                if batched and await self._process_batch(records):
                    done = _ends(records)
                    records = []
                for record in records:
                    if self.stopping:
                        break
                    await self._process(record)
                    done[(record.topic, record.partition)] = record.offset + 1
            except _Stopped:
                pass
            except DeadLetterLimitReached as exc:
                self._halt(exc.record, exc)
            finally:
                # Commit is the last step, for what is finished, even on the way out.
                if done:
                    await self._commit(done)
            if self.halted:
                return
            try:
                await self._update_lag()
            except RetryableError as exc:
                log.debug("lag not updated: %s", exc)

    def _halt(self, record: Record, exc: DeadLetterLimitReached) -> None:
        self.halted = True
        self._stopping.set()
        for topic in self._source.topics:
            CONSUMER_HALTED.labels(topic).set(1)
        log.error(
            "consumer of %s STOPPED: dead-letter limit reached (%s); %s[%d]@%d and what "
            "follows it are left uncommitted. Look at the dead letters "
            "(python -m services.common.dlq show %s), fix the cause, restart this service, "
            "then replay them (python -m services.common.dlq replay %s)",
            ", ".join(self._source.topics),
            exc,
            record.topic,
            record.partition,
            record.offset,
            record.topic,
            record.topic,
        )

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit, retrying a few times; an offset left uncommitted only means that the
        message is delivered again, and the handlers are idempotent."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._source.commit(offsets)
                return
            except RetryableError as exc:
                if self.stopping or attempt >= self._retry.error_attempts:
                    log.warning("offsets %s not committed, will be re-delivered: %s", offsets, exc)
                    return
                log.warning("commit failed (attempt %d), retrying: %s", attempt, exc)
                await asyncio.sleep(self._retry.backoff(attempt))

    async def _process(self, record: Record) -> None:
        """Handle one record in a span continuing the trace its headers carry: the
        handler's own spans and messages, and a dead letter, belong to that trace."""
        parent = tracing.context_from_headers(record.headers)
        with tracing.consumer_span(
            record.topic, record.partition, record.offset, record.key, parent
        ):
            try:
                await self._handle(record)
            finally:
                self._set_retrying(record.topic, 0)

    async def _process_batch(self, records: list[Record]) -> bool:
        """Hand every valid message of the fetch to the batch handler at once; then
        dead-letter the invalid ones. False when the batch has to go message by message
        (the batch handler found poison, or failed unexpectedly): nothing of it took
        effect, and each message is then handled, retried or dead-lettered on its own."""
        assert self._batch_handler is not None
        batch_handler = self._batch_handler
        started = time.perf_counter()
        valid: list[tuple[M, Record]] = []
        invalid: list[tuple[Record, ValueError]] = []
        for record in records:
            try:
                valid.append((self._decode(record), record))
            except ValueError as exc:
                invalid.append((record, exc))
        if valid:
            first = valid[0][1]
            attempt = 0
            while True:
                attempt += 1
                try:
                    await self._attempt(lambda: batch_handler(valid), interruptible=attempt > 1)
                    break
                except RetryableError as exc:
                    MESSAGES_FAILED.labels(first.topic, "retryable").inc()
                    self._set_retrying(first.topic, attempt)
                    await self._back_off(first, attempt, "retryable", exc)
                except Exception as exc:  # poison or a bug: find the message at fault
                    self._set_retrying(first.topic, 0)
                    log.warning(
                        "batch of %d from %s failed (%s); handling it message by message",
                        len(valid),
                        first.topic,
                        exc,
                        exc_info=not isinstance(exc, PoisonError),
                    )
                    return False
            self._set_retrying(first.topic, 0)
        share = (time.perf_counter() - started) / max(1, len(valid))
        for _, record in valid:
            MESSAGES_CONSUMED.labels(record.topic).inc()
            # Each message's share of the batch: seconds of work per message, as in the
            # one-by-one path, so that throughput reads the same either way.
            PROCESSING_SECONDS.labels(record.topic).observe(share)
            self._dlq.add(False)
        self.processed += len(valid)
        for record, reason in invalid:
            MESSAGES_CONSUMED.labels(record.topic).inc()
            MESSAGES_FAILED.labels(record.topic, "invalid").inc()
            await self._dead_letter(record, "invalid", reason)
        return True

    def _set_retrying(self, topic: str, attempts: int) -> None:
        self.retry_attempts = attempts
        self.retrying = attempts > 0
        HANDLER_RETRYING.labels(topic).set(1 if attempts else 0)

    async def _handle(self, record: Record) -> None:
        started = time.perf_counter()
        MESSAGES_CONSUMED.labels(record.topic).inc()
        try:
            message = self._decode(record)
        except ValueError as exc:
            MESSAGES_FAILED.labels(record.topic, "invalid").inc()
            await self._dead_letter(record, "invalid", exc)
            return
        attempt = 0
        errors = 0
        while True:
            attempt += 1
            try:
                await self._attempt(
                    lambda: self._handler(message, record), interruptible=attempt > 1
                )
                break
            except PoisonError as exc:
                MESSAGES_FAILED.labels(record.topic, "poison").inc()
                await self._dead_letter(record, exc.reason, exc)
                return
            except RetryableError as exc:
                # However long it takes: the message is valid, the world will come back.
                MESSAGES_FAILED.labels(record.topic, "retryable").inc()
                self._set_retrying(record.topic, attempt)
                await self._back_off(record, attempt, "retryable", exc)
            except Exception as exc:  # a bug: tried a few times, then dead-lettered
                MESSAGES_FAILED.labels(record.topic, "error").inc()
                errors += 1
                if errors >= self._retry.error_attempts:
                    log.error(
                        "giving up on %s[%d]@%d after %d unexpected errors",
                        record.topic,
                        record.partition,
                        record.offset,
                        errors,
                        exc_info=exc,
                    )
                    await self._dead_letter(record, REASON_ERROR, exc)
                    return
                await self._back_off(record, attempt, "error", exc)
        PROCESSING_SECONDS.labels(record.topic).observe(time.perf_counter() - started)
        self._dlq.add(False)
        self.processed += 1

    async def _attempt(self, call: Callable[[], Awaitable[None]], *, interruptible: bool) -> None:
        """One call of the handler. A first attempt is finished even when stop is
        requested meanwhile; a retry is abandoned at once (the message stays uncommitted
        and comes back; the handlers are idempotent), so SIGTERM never waits for a
        dependency that is away."""
        if not interruptible:
            await call()
            return
        if self.stopping:
            raise _Stopped
        attempt = asyncio.ensure_future(call())
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({attempt, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not attempt.done():
                attempt.cancel()
        if attempt.cancelled() or not attempt.done():
            raise _Stopped
        attempt.result()

    async def _back_off(self, record: Record, attempt: int, kind: str, exc: Exception) -> None:
        delay = self._retry.backoff(attempt)
        trace.get_current_span().add_event(
            "retry",
            {"attempt": attempt, "kind": kind, "delay_seconds": delay, "error": str(exc)},
        )
        log.warning(
            "%s handling %s[%d]@%d (attempt %d), retrying in %.1fs: %s",
            kind,
            record.topic,
            record.partition,
            record.offset,
            attempt,
            delay,
            exc,
            exc_info=kind == "error",
        )
        await self._pause(delay)

    def _decode(self, record: Record) -> M:
        if record.value is None:
            raise ValueError("message has no value")
        try:
            return self._model.model_validate_json(record.value)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc

    async def _dead_letter(self, record: Record, reason: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception_only(error)).strip()
        if self._dlq.would_pass():
            limit = self._dlq.limit
            raise DeadLetterLimitReached(
                f"{record.topic}[{record.partition}]@{record.offset} would be dead letter "
                f"{self._dlq.dead + 1} of the last {limit.window} messages, over "
                f"{limit.max_dead_letters} ({reason}: {detail[:200]})",
                record,
            )
        span = trace.get_current_span()
        span.set_attribute("dlq.reason", reason)
        tracing.mark_error(span, f"dead-lettered ({reason}): {detail}", error)
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)],
            (DLQ_REASON, reason.encode()),
            (DLQ_ERROR, detail.encode("utf-8", "replace")[:_MAX_ERROR_BYTES]),
            (DLQ_ORIGIN_TOPIC, record.topic.encode()),
            (DLQ_ORIGIN_PARTITION, str(record.partition).encode()),
            (DLQ_ORIGIN_OFFSET, str(record.offset).encode()),
        ]
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._publisher.publish(
                    dlq_topic(record.topic), record.key, record.value or b"", headers
                )
                break
            except BrokerUnavailable as exc:
                # The message may not be committed before it is safe in the DLQ.
                log.warning("dead-letter publish failed (attempt %d): %s", attempt, exc)
                self._set_retrying(record.topic, attempt)
                await self._pause(self._retry.backoff(attempt))
        MESSAGES_DEAD_LETTERED.labels(record.topic).inc()
        self._dlq.add(True)
        log.warning(
            "dead-lettered %s[%d]@%d (%s): %s",
            record.topic,
            record.partition,
            record.offset,
            reason,
            detail,
        )

    async def _pause(self, seconds: float) -> None:
        if self.stopping:
            raise _Stopped
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
        if self.stopping:
            raise _Stopped

    async def _update_lag(self) -> None:
        lags = await self._source.lag()
        for topic, partition in self._lag_reported - set(lags):
            # Partition moved to another group member: its lag is theirs to report now.
            CONSUMER_LAG.remove(topic, str(partition))
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        self._lag_reported = set(lags)


def _ends(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """The offset to commit per partition once all of ``records`` are finished."""
    ends: dict[TopicPartition, int] = {}
    for record in records:
        key = (record.topic, record.partition)
        ends[key] = max(ends.get(key, 0), record.offset + 1)
    return ends
