"""Replay: extract articles.raw again with the current extractor.

    python -m services.extract replay [--since DATE] [--restart]

Reads articles.raw from its beginning (or from the first article the broker received at
or after ``--since``) up to the end every partition had when the replay began, and
publishes each article's extraction to alliances.extracted with the live path's handler:
the same message, the same key (the article id), the same dead-letter topic for an
article that cannot be extracted, the same dead-letter limit. The registry keeps the
newer extraction of an article (a newer extractor version, or the same version extracted
later), so a replay after an extractor release updates every alliance.

The replay commits its offsets in a consumer group of its own
(``<TOPIC_PREFIX>extract-replay`` by default): an interrupted replay, run again, continues
where it stopped, and a replay that finished publishes nothing more until new articles
arrive. ``--restart`` starts over from the beginning (or ``--since``). Progress lines go to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError

from services.common.contracts import (
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    RawArticle,
    dlq_topic,
)
from services.common.dlq import parse_since
from services.common.errors import RetryableError
from services.common.kafka.loop import (
    DEFAULT_DLQ_LIMIT,
    DEFAULT_RETRY,
    ConsumerLoop,
    DlqLimit,
    RetryPolicy,
)
from services.common.kafka.publisher import (
    Headers,
    KafkaPublisher,
    Outgoing,
    Publisher,
    publish_each,
)
from services.common.kafka.records import Record, TopicPartition
from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.extract.entrypoints.consumer import make_extract_handler
from services.extract.service import ArticleExtractor


@dataclass
class Progress:
    """``done/total`` articles, the rate, what was published and dead-lettered."""

    total: int
    out: TextIO = sys.stderr
    every_seconds: float = 1.0
    done: int = 0
    published: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        return (
            f"replay [{bar:<30}] {self.done}/{self.total} ({share:.0%}) "
            f"{self.done / elapsed:.1f}/s, {self.published['extracted']} extracted, "
            f"{self.published['dead-lettered']} dead-lettered"
        )

    def show(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.every_seconds:
            return
        self._last = now
        self.out.write(self.line() + "\n")
        self.out.flush()


class CountingPublisher:
    """Publishes through ``inner`` and counts extractions and dead letters."""

    def __init__(
        self, inner: Publisher, output_topic: str, dead_letter_topic: str, progress: Progress
    ) -> None:
        self._inner = inner
        self._kinds = {output_topic: "extracted", dead_letter_topic: "dead-lettered"}
        self._progress = progress

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> None:
        await self._inner.publish(topic, key, value, headers)
        self._progress.published[self._kinds.get(topic, topic)] += 1

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        await publish_each(self, messages)


class BoundedSource:
    """articles.raw from where the replay stands up to the end offsets taken at start.

    The partitions are assigned, not balanced by the group: the group only keeps the
    replay's offsets. When every partition reached its end, ``fetch`` commits the ends
    and calls ``on_end`` (the loop's ``request_stop``)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        *,
        since: datetime | None = None,
        restart: bool = False,
        max_fetch_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.topics = [topic]
        self._since = since
        self._restart = restart
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=max_fetch_bytes,
            fetch_max_bytes=max_fetch_bytes * 4,
        )
        self.start_offsets: dict[KafkaTopicPartition, int] = {}
        self.end_offsets: dict[KafkaTopicPartition, int] = {}
        self.on_end: Callable[[], None] = lambda: None
        self.on_commit: Callable[[int], None] = lambda done: None
        self.ended = False
        self._committed: dict[KafkaTopicPartition, int] = {}

    @property
    def total(self) -> int:
        return sum(max(0, self.end_offsets[tp] - self.start_offsets[tp]) for tp in self.end_offsets)

    async def start(self) -> None:
        consumer = self._consumer
        try:
            await consumer.start()
            topic = self.topics[0]
            cluster = await consumer._client.fetch_all_metadata()
            partitions = sorted(cluster.partitions_for_topic(topic) or ())
            if not partitions:
                raise RetryableError(f"no topic {topic}")
            tps = [KafkaTopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            self.end_offsets = await consumer.end_offsets(tps)
            since: dict[KafkaTopicPartition, Any] = {}
            if self._since is not None:
                since = await consumer.offsets_for_times(
                    {tp: int(self._since.timestamp() * 1000) for tp in tps}
                )
            beginnings = await consumer.beginning_offsets(tps)
            for tp in tps:
                committed = None if self._restart else await consumer.committed(tp)
                if committed is not None:
                    offset = committed
                elif self._since is not None:
                    found = since.get(tp)
                    offset = found.offset if found is not None else self.end_offsets[tp]
                else:
                    offset = beginnings[tp]
                offset = max(offset, beginnings[tp])
                consumer.seek(tp, offset)
                self.start_offsets[tp] = offset
        except KafkaError as exc:
            await consumer.stop()
            raise RetryableError(f"cannot read {self.topics[0]}: {exc}") from exc
        except BaseException:
            await consumer.stop()
            raise

    async def stop(self) -> None:
        await self._consumer.stop()

    async def fetch(self, timeout_seconds: float, max_records: int) -> list[Record]:
        left = [
            tp
            for tp in self.end_offsets
            if await self._consumer.position(tp) < self.end_offsets[tp]
        ]
        if not left:
            # Every record handed out before was finished and committed by the loop.
            await self.commit(
                {
                    (tp.topic, tp.partition): end
                    for tp, end in self.end_offsets.items()
                    if end > self.start_offsets[tp]
                }
            )
            self.ended = True
            self.on_end()
            return []
        try:
            batches = await self._consumer.getmany(
                *left, timeout_ms=int(timeout_seconds * 1000), max_records=max_records
            )
        except KafkaError as exc:
            raise RetryableError(f"fetch failed: {exc}") from exc
        return [
            Record.of(msg)
            for tp, messages in batches.items()
            for msg in messages
            if msg.offset < self.end_offsets[tp]
        ]

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self._consumer.commit(
                {KafkaTopicPartition(t, p): offset for (t, p), offset in offsets.items()}
            )
        except KafkaError as exc:
            raise RetryableError(f"offset commit failed: {exc}") from exc
        for (t, p), offset in offsets.items():
            self._committed[KafkaTopicPartition(t, p)] = offset
        self.on_commit(self.done())

    def done(self) -> int:
        """Articles of this replay behind the offsets it committed."""
        return sum(
            max(0, min(self._committed.get(tp, start), self.end_offsets[tp]) - start)
            for tp, start in self.start_offsets.items()
        )

    async def lag(self) -> dict[TopicPartition, int]:
        return {
            (tp.topic, tp.partition): max(0, end - await self._consumer.position(tp))
            for tp, end in self.end_offsets.items()
        }


@dataclass(frozen=True)
class ReplayResult:
    total: int
    done: int
    extracted: int
    dead_lettered: int
    halted: bool
    finished: bool


async def replay(
    source: BoundedSource,
    publisher: Publisher,
    output_topic: str,
    extractor: ArticleExtractor,
    *,
    out: TextIO = sys.stderr,
    retry: RetryPolicy = DEFAULT_RETRY,
    dlq_limit: DlqLimit = DEFAULT_DLQ_LIMIT,
    max_article_chars: int = DEFAULT_MAX_ARTICLE_CHARS,
    progress_every_seconds: float = 1.0,
    stop_on_signals: bool = False,
) -> ReplayResult:
    """Replay what ``source`` (started) holds through the live extract handler."""
    progress = Progress(total=source.total, out=out, every_seconds=progress_every_seconds)
    counting = CountingPublisher(publisher, output_topic, dlq_topic(source.topics[0]), progress)
    handler = make_extract_handler(
        counting, output_topic, extractor=extractor, max_article_chars=max_article_chars
    )
    loop = ConsumerLoop(
        source, counting, RawArticle, handler, retry=retry, dlq_limit=dlq_limit, max_batch=50
    )
    source.on_end = loop.request_stop

    def committed(done: int) -> None:
        progress.done = done
        progress.show()

    source.on_commit = committed
    progress.show(final=True)
    running = asyncio.get_running_loop()
    if stop_on_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            running.add_signal_handler(sig, loop.request_stop)
    try:
        await loop.run()
    finally:
        if stop_on_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                running.remove_signal_handler(sig)
    progress.done = source.done()
    progress.show(final=True)
    return ReplayResult(
        total=progress.total,
        done=progress.done,
        extracted=progress.published["extracted"],
        dead_lettered=progress.published["dead-lettered"],
        halted=loop.halted,
        finished=source.ended,
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m services.extract replay``."""
    parser.add_argument(
        "--since",
        type=parse_since,
        help="start at the first article received at or after this date (UTC) or ISO "
        "date and time, instead of the beginning (for partitions the replay has not begun)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="forget where an earlier replay stopped and start over",
    )
    parser.add_argument(
        "--group",
        help="the consumer group keeping the replay's offsets "
        "(default: TOPIC_PREFIX + EXTRACT_REPLAY_GROUP_ID)",
    )


def run(args: argparse.Namespace) -> int:
    """Replay with the options ``configure`` defines; 0 once every article was replayed."""
    from services.extract.adapters.isolation import ExtractionProcess
    from services.extract.config import ExtractSettings

    settings = ExtractSettings()
    raw = settings.topic(TOPIC_ARTICLES_RAW)
    output = settings.topic(TOPIC_ALLIANCES_EXTRACTED)
    group = args.group or settings.topic_prefix + settings.replay_group_id

    async def go() -> ReplayResult:
        source = BoundedSource(
            settings.kafka_bootstrap_servers, raw, group, since=args.since, restart=args.restart
        )
        publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id=group)
        extraction = ExtractionProcess(budget_seconds=settings.article_budget_seconds)
        await source.start()
        try:
            await publisher.start()
            await extraction.start()
            print(f"replaying {raw} into {output} (group {group})", file=sys.stderr)
            return await replay(
                source,
                publisher,
                output,
                extraction,
                retry=settings.retry_policy(),
                dlq_limit=settings.dlq_limit(),
                max_article_chars=settings.max_article_chars,
                stop_on_signals=True,
            )
        finally:
            with contextlib.suppress(Exception):
                await extraction.stop()
            await publisher.stop()
            await source.stop()

    try:
        result = asyncio.run(go())
    except RetryableError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 1
    if result.halted:
        print(
            "replay stopped: the dead-letter limit was reached (python -m "
            f"services.common.dlq show {dlq_topic(raw)})",
            file=sys.stderr,
        )
        return 1
    if not result.finished:
        print("replay interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    print(
        f"replayed {result.done} articles: {result.extracted} extracted, "
        f"{result.dead_lettered} dead-lettered",
        file=sys.stderr,
    )
    return 0
