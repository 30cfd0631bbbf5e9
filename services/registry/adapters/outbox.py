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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, text, update
from sqlmodel import Session, col, select

from services.common.kafka.publisher import (
    BrokerUnavailable,
    ManagedPublisher,
    Outgoing,
    PartlyPublished,
)
from services.common.values import utc
from services.common.worker import connect_with_retry
from services.registry.adapters.tables import OutboxRow
from services.registry.config import alliance_page_url
from services.registry.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x72656F62  # "reob"
#: How many batches may be acknowledged and not yet marked sent before the relay waits.
_MOST_UNMARKED = 10


#: Where the alliance ends in a change as ``AllianceChange.model_dump_json`` writes it: its
#: ``url`` (last of its fields) not set, then the change's ``occurred_at``. A quote inside
#: a JSON string is escaped, so this is the document's own structure, and only the change
#: itself has an ``occurred_at``, which follows its ``alliance``.
_URL_NULL = ',"url":null'
_URL_UNSET = _URL_NULL + '},"occurred_at":'
#: Where the alliance starts in such a change: with its ``id``.
_ALLIANCE_ID = ',"alliance":{"id":"'


def with_alliance_url(payload: str, public_base_url: str | None) -> str:
    """The change ``payload`` (JSON) with ``alliance.url`` set to the alliance's page.

    What the registry writes is set in place, without parsing the document (the relay's
    costliest step per change otherwise): the result is what ``json.dumps`` would make of
    it, as the registry's payloads go through ``json`` unchanged. Anything else (a change
    written before alliances had a page, say) is parsed."""
    if not public_base_url:
        return payload
    end = payload.rfind(_URL_UNSET)
    start = payload.find(_ALLIANCE_ID)
    if end < 0 or start < 0:
        return _parsed_with_alliance_url(payload, public_base_url)
    start += len(_ALLIANCE_ID)
    close = payload.find('"', start)
    alliance_id = payload[start:close]
    if close < 0 or not alliance_id or "\\" in alliance_id:
        return _parsed_with_alliance_url(payload, public_base_url)  # left to json to read
    url = json.dumps(alliance_page_url(public_base_url, alliance_id), ensure_ascii=False)
    return payload[:end] + ',"url":' + url + payload[end + len(_URL_NULL) :]


def _parsed_with_alliance_url(payload: str, public_base_url: str) -> str:
    data = json.loads(payload)
    alliance = data.get("alliance") if isinstance(data, dict) else None
    if not isinstance(alliance, dict) or not alliance.get("id"):
        return payload
    alliance["url"] = alliance_page_url(public_base_url, str(alliance["id"]))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def pending_changes(engine: Engine, limit: int) -> list[OutboxRow]:
    """The oldest changes not yet acknowledged by the broker, in commit order."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.sent_at).is_(None))
                .order_by(col(OutboxRow.id))
                .limit(limit)
            ).all()
        )


class PendingChange(NamedTuple):
    """What the relay sends of an outbox row."""

    id: int | None
    alliance_id: str
    payload: str
    trace_context: str | None


# Built once and read as plain rows: the relay reads every change the registry writes.
_PENDING = (
    select(
        col(OutboxRow.id),
        col(OutboxRow.alliance_id),
        col(OutboxRow.payload),
        col(OutboxRow.trace_context),
    )
    .where(col(OutboxRow.sent_at).is_(None))
    .order_by(col(OutboxRow.id))
    .limit(bindparam("limit"))
)
_MARK_SENT = (
    update(OutboxRow)
    .where(col(OutboxRow.id).in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("sent_at"))
)


def changes_to_send(engine: Engine, limit: int) -> list[PendingChange]:
    """``pending_changes``, without the columns and the objects the relay has no use for."""
    with engine.connect() as connection:
        return [PendingChange(*row) for row in connection.execute(_PENDING, {"limit": limit})]


def mark_sent(engine: Engine, ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    with engine.begin() as connection:
        connection.execute(_MARK_SENT, {"ids": list(ids), "sent_at": utc(now)})


def outbox(engine: Engine) -> list[OutboxRow]:
    """Every change ever committed, sent or not, in commit order."""
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publisher: ManagedPublisher,
        topic: str,
        *,
        poll_seconds: float = 1.0,
        batch: int = 200,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        public_base_url: str | None = None,
    ) -> None:
        self.engine = engine
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
        #: Acknowledged by the broker, not yet marked sent: skipped by the next reads.
        self._unmarked: dict[int, None] = {}
        self._marking: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New rows were committed: relay them now rather than at the next poll."""
        self._wake.set()

    def _lead(self) -> bool:
        """Whether this process is the relay (always on SQLite: one process owns the file)."""
        engine = self.engine
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
        """Give up the lead. The lock belongs to the database session, which outlives a
        pooled connection's close(): the session itself is ended (the connection is
        invalidated, not returned to the pool), else the lock would stay with an idle
        pooled connection and no replica, this one included, could relay again."""
        connection, self._lock_connection = self._lock_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()
            with contextlib.suppress(Exception):
                connection.close()

    async def relay_once(self) -> int:
        """Publish what is pending, in order; returns how many were acknowledged.

        What the broker acknowledged is marked sent in the background: on SQLite the
        marking waits for the write lock, which the registry's own transactions hold
        back to back under load, and publishing must not wait behind them. Rows
        acknowledged and not yet marked are skipped by the next read; were the process to
        die first, they would be sent again (notify deduplicates by ``change_id``)."""
        # Only PostgreSQL's replicas elect the relay: on SQLite no thread is needed to know.
        postgres = self.engine.dialect.name == "postgresql"
        if postgres and not await asyncio.to_thread(self._lead):
            return 0
        if len(self._unmarked) >= _MOST_UNMARKED * self.batch:
            await self._marked()  # the marking fell far behind: let it catch up first
        skipped = set(self._unmarked)
        rows = await asyncio.to_thread(changes_to_send, self.engine, self.batch + len(skipped))
        rows = [row for row in rows if row.id not in skipped][: self.batch]
        OUTBOX_PENDING.set(len(rows))
        if not rows:
            return 0
        # Handed to the producer together (one request for many, not a round trip each),
        # each in the trace of the write that made the change, not of this loop.
        messages = [
            Outgoing(
                self.topic,
                row.alliance_id.encode(),
                with_alliance_url(row.payload, self.public_base_url).encode("utf-8"),
                trace_context=row.trace_context,
            )
            for row in rows
        ]
        acknowledged, partly = len(rows), False
        try:
            await self.publisher.publish_many(messages)
        except PartlyPublished as exc:
            # Only the unbroken run from the first is kept: a later change marked sent
            # past a lost one would reach notify before it when the lost one is sent again.
            acknowledged, partly = exc.leading, True
            if acknowledged == 0:
                raise
            log.warning("outbox relay: %s; the rest go out next time", exc)
        sent = [row.id for row in rows[:acknowledged] if row.id is not None]
        self._unmarked.update(dict.fromkeys(sent))
        OUTBOX_PUBLISHED.inc(len(sent))
        if partly:
            await self._marked()
        else:
            self._mark_in_background()
        return len(sent)

    def _mark_in_background(self) -> None:
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark(), name="outbox-marking")

    async def _mark(self) -> None:
        """Mark sent what was acknowledged, until nothing is left to mark."""
        while self._unmarked:
            ids = list(self._unmarked)
            try:
                await asyncio.to_thread(mark_sent, self.engine, ids, self.clock())
            except Exception:
                # Kept for the next try; meanwhile the rows are not read again.
                log.exception("outbox relay: marking %d changes sent failed", len(ids))
                return
            for row_id in ids:
                self._unmarked.pop(row_id, None)

    async def _marked(self) -> None:
        """Return once everything acknowledged so far is marked sent (or marking failed)."""
        self._mark_in_background()
        if self._marking is not None:
            await self._marking

    async def drain(self) -> int:
        total = 0
        while (count := await self.relay_once()) > 0:
            total += count
        await self._marked()
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
        await self._marked()
        self._release()
        self.connected = False
        await self.publisher.stop()

    async def ready(self) -> bool:
        failed = self._task is not None and self._task.done()
        return self.connected and not failed and await self.publisher.check()
