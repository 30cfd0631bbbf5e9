"""Relays committed changes from the outbox table to alliances.changes.

A row is marked sent only after the broker acknowledged it, so a crash re-sends rather
than loses (consumers deduplicate by ``change_id``). Rows go out in commit order, one
relay at a time: on PostgreSQL the replicas elect the relay with an advisory lock.
Each change goes out with its alliance's page (``alliance.url``, from PUBLIC_BASE_URL),
added as it is sent, so that every change in the table, whoever wrote it, carries the
address the registry is reached at now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, text

from services.common import tracing
from services.common.kafka.publisher import BrokerUnavailable, ManagedPublisher
from services.common.worker import connect_with_retry
from services.registry.adapters.repository import RegistryRepository
from services.registry.config import alliance_page_url

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter("registry_outbox_published_total", "Changes relayed to Kafka.")
OUTBOX_PENDING = Gauge("registry_outbox_pending", "Changes committed but not yet relayed.")
_RELAY_LOCK = 0x72656F62  # "reob"


def with_alliance_url(payload: str, public_base_url: str | None) -> str:
    """The change ``payload`` (JSON) with ``alliance.url`` set to the alliance's page."""
    if not public_base_url:
        return payload
    data = json.loads(payload)
    alliance = data.get("alliance") if isinstance(data, dict) else None
    if not isinstance(alliance, dict) or not alliance.get("id"):
        return payload
    alliance["url"] = alliance_page_url(public_base_url, str(alliance["id"]))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class OutboxRelay:
    def __init__(
        self,
        repository: RegistryRepository,
        publisher: ManagedPublisher,
        topic: str,
        *,
        poll_seconds: float = 1.0,
        batch: int = 200,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        public_base_url: str | None = None,
    ) -> None:
        self.repository = repository
        self.public_base_url = public_base_url
        self.publisher = publisher
        self.topic = topic
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock_connection: Connection | None = None
        self.connected = False

    def wake(self) -> None:
        """New rows were committed: relay them now rather than at the next poll."""
        self._wake.set()

    def _lead(self) -> bool:
        """Whether this process is the relay (always on SQLite: one process owns the file)."""
        engine = self.repository.engine
        if engine.dialect.name != "postgresql":
            return True
        if self._lock_connection is not None:
            try:
                self._lock_connection.execute(text("SELECT 1"))
                return True
            except Exception:
                self._release()
        connection = engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _RELAY_LOCK}
            ).scalar()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._lock_connection = connection
        return True

    def _release(self) -> None:
        connection, self._lock_connection = self._lock_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    async def relay_once(self) -> int:
        """Publish what is pending, in order; returns how many were acknowledged."""
        if not await asyncio.to_thread(self._lead):
            return 0
        rows = await asyncio.to_thread(self.repository.pending_changes, self.batch)
        OUTBOX_PENDING.set(len(rows))
        sent: list[int] = []
        try:
            for row in rows:
                # Sent in the trace of the write that made the change, not of this loop.
                with tracing.resumed(row.trace_context):
                    payload = with_alliance_url(row.payload, self.public_base_url)
                    await self.publisher.publish(
                        self.topic, row.alliance_id.encode(), payload.encode("utf-8")
                    )
                assert row.id is not None
                sent.append(row.id)
        finally:
            # Only what the broker acknowledged is marked; the rest goes out next time.
            if sent:
                await asyncio.to_thread(self.repository.mark_sent, sent, self.clock())
                OUTBOX_PUBLISHED.inc(len(sent))
        return len(sent)

    async def drain(self) -> int:
        total = 0
        while (count := await self.relay_once()) > 0:
            total += count
        return total

    async def _run(self) -> None:
        await connect_with_retry(self.publisher.start, "Kafka (outbox producer)")
        self.connected = True
        delay = self.poll_seconds
        while not self._stopping:
            try:
                count = await self.relay_once()
                delay = self.poll_seconds
            except BrokerUnavailable as exc:
                log.warning("outbox relay: broker unavailable, retrying: %s", exc)
                count, delay = 0, min(10.0, delay * 2)
            except Exception:
                log.exception("outbox relay failed, retrying")
                self._release()
                count, delay = 0, min(10.0, delay * 2)
            if count >= self.batch:
                continue  # more waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            if not self.connected:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._release()
        self.connected = False
        await self.publisher.stop()

    async def ready(self) -> bool:
        failed = self._task is not None and self._task.done()
        return self.connected and not failed and await self.publisher.check()
