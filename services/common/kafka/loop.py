"""The consumer loop: validate, handle, dead-letter what cannot be handled, then commit.

Offsets are committed only for messages whose handling finished (handled, or safely in
the dead-letter topic), so a crash at any point means re-delivery, never loss; handlers
are idempotent by the message key, so re-delivery has no second effect.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry import trace
from pydantic import ValidationError

from services.common import tracing
from services.common.contracts import Message, dlq_topic
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.metrics import (
    CONSUMER_LAG,
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
Sleep = Callable[[float], Awaitable[None]]

#: Header names on a dead-lettered message.
DLQ_REASON = "dlq.reason"
DLQ_ERROR = "dlq.error"
DLQ_ORIGIN_TOPIC = "dlq.origin.topic"
DLQ_ORIGIN_PARTITION = "dlq.origin.partition"
DLQ_ORIGIN_OFFSET = "dlq.origin.offset"
_MAX_ERROR_BYTES = 4096
FAILURE_KINDS = ("invalid", "poison", "retryable", "error")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for retryable failures, bounded in attempts."""

    max_attempts: int = 6
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 10.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (attempt - 1))


DEFAULT_RETRY = RetryPolicy()


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
        sleep: Sleep = asyncio.sleep,
        fetch_timeout_seconds: float = 0.5,
        max_batch: int = 100,
    ) -> None:
        self._source = source
        self._publisher = publisher
        self._model = model
        self._handler = handler
        self._retry = retry
        self._sleep = sleep
        self._fetch_timeout = fetch_timeout_seconds
        self._max_batch = max_batch
        self._stopping = asyncio.Event()
        self.processed = 0
        self._lag_reported: set[TopicPartition] = set()
        for topic in source.topics:
            # Export zeros from the start, so the first failure shows up in increase().
            MESSAGES_CONSUMED.labels(topic)
            MESSAGES_DEAD_LETTERED.labels(topic)
            for kind in FAILURE_KINDS:
                MESSAGES_FAILED.labels(topic, kind)

    def request_stop(self) -> None:
        """Finish the message in hand, commit, and return from ``run``."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

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
                for record in records:
                    if self.stopping:
                        break
                    await self._process(record)
                    done[(record.topic, record.partition)] = record.offset + 1
            except _Stopped:
                pass
            finally:
                # Commit is the last step, for what is finished, even on the way out.
                if done:
                    await self._commit(done)
            try:
                await self._update_lag()
            except RetryableError as exc:
                log.debug("lag not updated: %s", exc)

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
                if self.stopping or attempt >= self._retry.max_attempts:
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
            await self._handle(record)

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
        while True:
            attempt += 1
            try:
                await self._handler(message, record)
                break
            except PoisonError as exc:
                MESSAGES_FAILED.labels(record.topic, "poison").inc()
                await self._dead_letter(record, exc.reason, exc)
                return
            except Exception as exc:  # retryable, or a bug: retried, then dead-lettered
                kind = "retryable" if isinstance(exc, RetryableError) else "error"
                MESSAGES_FAILED.labels(record.topic, kind).inc()
                if attempt >= self._retry.max_attempts:
                    log.error(
                        "giving up on %s[%d]@%d after %d attempts",
                        record.topic,
                        record.partition,
                        record.offset,
                        attempt,
                        exc_info=exc,
                    )
                    await self._dead_letter(record, "retries_exhausted", exc)
                    return
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
        PROCESSING_SECONDS.labels(record.topic).observe(time.perf_counter() - started)
        self.processed += 1

    def _decode(self, record: Record) -> M:
        if record.value is None:
            raise ValueError("message has no value")
        try:
            return self._model.model_validate_json(record.value)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc

    async def _dead_letter(self, record: Record, reason: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception_only(error)).strip()
        span = trace.get_current_span()
        span.set_attribute("dlq.reason", reason)
        tracing.mark_error(span, f"dead-lettered ({reason}): {detail}", error)
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("dlq.")],
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
                await self._pause(self._retry.backoff(attempt))
        MESSAGES_DEAD_LETTERED.labels(record.topic).inc()
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
