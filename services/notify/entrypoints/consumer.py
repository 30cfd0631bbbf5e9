"""The consumer side: each alliance change becomes its deliveries, once."""

from __future__ import annotations

import logging

from sqlalchemy.exc import InterfaceError, OperationalError

from services.common.contracts import AllianceChange
from services.common.errors import RetryableError
from services.common.kafka.loop import Handler
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
