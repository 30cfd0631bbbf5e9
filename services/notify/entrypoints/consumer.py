"""The consumer side: each alliance change becomes its deliveries, once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import InterfaceError, OperationalError

from services.common import tracing
from services.common.contracts import AllianceChange
from services.common.errors import RetryableError
from services.common.kafka.loop import BatchHandler, Handler
from services.common.kafka.records import Record
from services.notify.service import NotifyService

log = logging.getLogger(__name__)


def make_notify_handler(service: NotifyService) -> Handler[AllianceChange]:
    async def handle(change: AllianceChange, record: Record) -> None:
        try:
            created = await service.receive_change(change)
        except (OperationalError, InterfaceError) as exc:
            raise RetryableError(f"notify database unavailable: {exc}") from exc
        log.info(
            "alliance change %s: %d deliveries",
            change.change_id,
            created,
            extra={"alliance_id": change.alliance_id},
        )

    return handle


def make_notify_batch_handler(service: NotifyService) -> BatchHandler[AllianceChange]:
    """A fetch of changes into deliveries in one transaction. Each change's deliveries
    continue the trace of its own message (its ``process`` span)."""

    async def handle(batch: Sequence[tuple[AllianceChange, Record]]) -> None:
        changes: list[tuple[AllianceChange, str | None]] = []
        for change, record in batch:
            parent = tracing.context_from_headers(record.headers)
            with tracing.consumer_span(
                record.topic, record.partition, record.offset, record.key, parent
            ):
                changes.append((change, tracing.current_carrier()))
        try:
            created = await service.receive_changes(changes)
        except (OperationalError, InterfaceError) as exc:
            raise RetryableError(f"notify database unavailable: {exc}") from exc
        log.info("%d alliance changes: %d deliveries", len(changes), created)

    return handle
