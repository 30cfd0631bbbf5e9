"""The alliances.extracted handler: one article's extraction into the registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from services.common import tracing
from services.common.contracts import ExtractedArticle
from services.common.errors import PoisonError, RetryableError
from services.common.kafka.loop import BatchHandler, Handler
from services.common.kafka.records import Record
from services.registry.metrics import CHANGES, EXTRACTIONS
from services.registry.service import ApplyOutcome, RegistryService

log = logging.getLogger(__name__)


async def apply_extraction(
    repository: RegistryService,
    message: ExtractedArticle,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ApplyOutcome:
    """Apply in a worker thread; database failures become the consumer loop's error kinds."""
    [outcome] = await _in_thread(lambda: [repository.apply_extraction(message, clock())])
    return outcome


async def _in_thread(work: Callable[[], list[ApplyOutcome]]) -> list[ApplyOutcome]:
    try:
        outcomes = await asyncio.to_thread(work)
    except DataError as exc:
        raise PoisonError(f"the extraction does not fit the registry: {exc.orig}") from exc
    except IntegrityError as exc:
        # A concurrent writer won a race; the retry sees its rows and merges with them.
        raise RetryableError(f"registry write conflict: {exc.orig}") from exc
    except (OperationalError, InterfaceError) as exc:
        raise RetryableError(f"registry database unavailable: {exc}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:  # the connection dropped mid-statement
            raise RetryableError(f"registry database connection lost: {exc}") from exc
        # Anything else (a ProgrammingError: a bug) would fail the same way forever: the
        # loop tries it a few times, then dead-letters it with its reason.
        raise
    for outcome in outcomes:
        EXTRACTIONS.labels(outcome.status).inc()
        for change in outcome.changes:
            CHANGES.labels(change.kind.value).inc()
    return outcomes


def _refuse_wrong_key(message: ExtractedArticle, record: Record) -> None:
    if record.key is not None and record.key != message.article_id.encode():
        raise PoisonError(
            f"message key {record.key!r} is not its article_id {message.article_id!r}"
        )


def _log(message: ExtractedArticle, outcome: ApplyOutcome) -> None:
    for change in outcome.changes:
        log.info(
            "alliance %s (%s)",
            change.kind.value,
            ", ".join(change.changed_fields),
            extra={"article_id": message.article_id, "alliance_id": change.alliance_id},
        )
    log.info(
        "extraction %s: %d alliances, %d changes",
        outcome.status,
        len(outcome.alliance_ids),
        len(outcome.changes),
        extra={"article_id": message.article_id},
    )


def make_registry_handler(
    repository: RegistryService,
    on_commit: Callable[[], None] = lambda: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Handler[ExtractedArticle]:
    async def handle(message: ExtractedArticle, record: Record) -> None:
        _refuse_wrong_key(message, record)
        with tracing.tracer().start_as_current_span(
            "registry apply", attributes={"article.id": message.article_id}
        ) as span:
            # The outbox rows written here keep this span's context for the relay.
            outcome = await apply_extraction(repository, message, clock)
            span.set_attribute("registry.outcome", outcome.status)
            span.set_attribute("registry.changes", len(outcome.changes))
        if outcome.changes:
            on_commit()
        _log(message, outcome)

    return handle


def make_registry_batch_handler(
    repository: RegistryService,
    on_commit: Callable[[], None] = lambda: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BatchHandler[ExtractedArticle]:
    """A fetch of extractions in one registry transaction. Each message's work runs in its
    own ``process`` and ``registry apply`` spans, so its changes continue its trace."""

    async def handle(batch: Sequence[tuple[ExtractedArticle, Record]]) -> None:
        for message, record in batch:
            _refuse_wrong_key(message, record)
        records = {id(message): record for message, record in batch}

        @contextmanager
        def around(message: ExtractedArticle) -> Iterator[None]:
            record = records[id(message)]
            parent = tracing.context_from_headers(record.headers)
            with (
                tracing.consumer_span(
                    record.topic, record.partition, record.offset, record.key, parent
                ),
                tracing.tracer().start_as_current_span(
                    "registry apply", attributes={"article.id": message.article_id}
                ),
            ):
                yield

        messages = [message for message, _ in batch]
        outcomes = await _in_thread(lambda: repository.apply_extractions(messages, clock(), around))
        if any(o.changes for o in outcomes):
            on_commit()
        for message, outcome in zip(messages, outcomes, strict=True):
            _log(message, outcome)

    return handle
