"""Look at a dead-letter topic and replay it: ``python -m services.common.dlq``.

    python -m services.common.dlq list articles.raw           # counts by reason, oldest, newest
    python -m services.common.dlq show articles.raw --limit 5 # key, reason, origin, error, payload
    python -m services.common.dlq replay articles.raw --since 2024-05-01 --dry-run
    python -m services.common.dlq replay articles.raw --reason budget_exceeded

TOPIC is a main topic (``articles.raw``) or its twin (``articles.raw.dlq``), without
``TOPIC_PREFIX`` (added here) or with it (as alerts name it). The dead letters are read
from the beginning to the end the topic had when the command started, by no consumer
group: nothing is committed, and the dead-letter topic is left as it is.

``replay`` publishes each dead letter again to the topic it came from (its
``dlq.origin.topic`` header), with its key, value and headers but the ``dlq.*`` ones, and
its trace. Every consumer is idempotent by its key (extract and the registry by
``article_id``, notify by ``change_id``), so a message replayed twice, or one that was
handled after all, has no second effect. Fix the cause first: a message that fails again
is dead-lettered again. ``--since`` replays only what was dead-lettered from that moment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import context as otel_context
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common import tracing
from services.common.cli import describe_settings
from services.common.contracts import DLQ_SUFFIX
from services.common.kafka.loop import (
    DLQ_ERROR,
    DLQ_HEADER_PREFIX,
    DLQ_ORIGIN_OFFSET,
    DLQ_ORIGIN_PARTITION,
    DLQ_ORIGIN_TOPIC,
    DLQ_REASON,
)
from services.common.kafka.publisher import KafkaPublisher, Publisher

PROG = "python -m services.common.dlq"
PAYLOAD_EXCERPT = 200
ERROR_EXCERPT = 300


class DlqSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    #: The Kafka broker(s), comma-separated host:port.
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    #: Prepended to the topic names given (unless they already start with it).
    topic_prefix: str = Field("", validation_alias="TOPIC_PREFIX")


class DlqError(RuntimeError):
    """The broker or the topic is not there; the message says which."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(DLQ_REASON) or "(none)"

    @property
    def origin(self) -> str:
        topic = self.header(DLQ_ORIGIN_TOPIC) or "?"
        return f"{topic}[{self.header(DLQ_ORIGIN_PARTITION) or '?'}]@{self.header(DLQ_ORIGIN_OFFSET) or '?'}"

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """Its headers as the original message had them: without the dlq.* ones."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]


def dlq_name(topic: str, prefix: str = "") -> str:
    """The full name of the dead-letter twin of ``topic`` (given with or without its
    ``.dlq`` suffix and the prefix)."""
    name = topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX
    if prefix and not name.startswith(prefix):
        name = prefix + name
    return name


def origin_topic(letter: DeadLetter, dlq: str) -> str:
    """Where a dead letter goes back to: its dlq.origin.topic, else the twin's main topic."""
    return letter.header(DLQ_ORIGIN_TOPIC) or dlq.removesuffix(DLQ_SUFFIX)


def _excerpt(data: bytes | None, limit: int) -> str:
    if data is None:
        return "(none)"
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + f"… ({len(data)} bytes)"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


async def read_dead_letters(
    bootstrap_servers: str, topic: str, *, timeout: float = 30.0
) -> AsyncGenerator[DeadLetter, None]:
    """Every dead letter of ``topic`` (a full name), oldest offset first in each partition,
    up to the end each partition had when reading began."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(timeout * 1000),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
    except (KafkaError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await consumer.stop()
        raise DlqError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from exc
    try:
        # The consumer's own metadata knows only topics it subscribed to: ask the cluster.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = sorted(cluster.partitions_for_topic(topic) or ())
        if not partitions:
            raise DlqError(f"no topic {topic} on {bootstrap_servers}")
        tps = [KafkaTopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout
        while left:
            if time.monotonic() > deadline:
                raise DlqError(f"{topic}: not read to its end within {timeout:g} s")
            batches = await consumer.getmany(*left, timeout_ms=500, max_records=500)
            for tp, messages in batches.items():
                for msg in messages:
                    if msg.offset >= ends[tp]:
                        continue
                    deadline = time.monotonic() + timeout
                    yield DeadLetter(
                        partition=msg.partition,
                        offset=msg.offset,
                        timestamp=datetime.fromtimestamp(msg.timestamp / 1000, UTC),
                        key=msg.key,
                        value=msg.value,
                        headers=tuple(msg.headers or ()),
                    )
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()


@dataclass
class Summary:
    topic: str
    count: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None

    def __post_init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.by_reason: dict[str, list[datetime]] = {}

    def add(self, letter: DeadLetter) -> None:
        self.count += 1
        self.reasons[letter.reason] += 1
        self.oldest = min(self.oldest or letter.timestamp, letter.timestamp)
        self.newest = max(self.newest or letter.timestamp, letter.timestamp)
        span = self.by_reason.setdefault(letter.reason, [letter.timestamp, letter.timestamp])
        span[0] = min(span[0], letter.timestamp)
        span[1] = max(span[1], letter.timestamp)

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "oldest": _when(self.oldest) if self.oldest else None,
            "newest": _when(self.newest) if self.newest else None,
            "reasons": {
                reason: {
                    "count": n,
                    "oldest": _when(self.by_reason[reason][0]),
                    "newest": _when(self.by_reason[reason][1]),
                }
                for reason, n in sorted(self.reasons.items())
            },
        }

    def text(self) -> str:
        if not self.count:
            return f"{self.topic}: no dead letters"
        lines = [
            f"{self.topic}: {self.count} dead letters, oldest {_when(self.oldest)}, "
            f"newest {_when(self.newest)}",
            f"  {'reason':<20} {'count':>7}  {'oldest':<20}  newest",
        ]
        for reason, n in sorted(self.reasons.items(), key=lambda item: (-item[1], item[0])):
            first, last = self.by_reason[reason]
            lines.append(f"  {reason:<20} {n:>7}  {_when(first):<20}  {_when(last)}")
        return "\n".join(lines)


async def summarize(bootstrap_servers: str, topic: str) -> Summary:
    summary = Summary(topic)
    async for letter in read_dead_letters(bootstrap_servers, topic):
        summary.add(letter)
    return summary


def describe(letter: DeadLetter, payload_chars: int = PAYLOAD_EXCERPT) -> str:
    error = " | ".join(line.strip() for line in letter.header(DLQ_ERROR).splitlines())
    return "\n".join(
        [
            f"{letter.partition}@{letter.offset}  {_when(letter.timestamp)}",
            f"  key      {_excerpt(letter.key, 200)}",
            f"  reason   {letter.reason}",
            f"  origin   {letter.origin}",
            f"  error    {_excerpt(error.encode(), ERROR_EXCERPT)}",
            f"  payload  {_excerpt(letter.value, payload_chars)}",
        ]
    )


async def show(
    bootstrap_servers: str, topic: str, limit: int, reasons: Sequence[str] = ()
) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    async with contextlib.aclosing(read_dead_letters(bootstrap_servers, topic)) as letters:
        async for letter in letters:
            if reasons and letter.reason not in reasons:
                continue
            found.append(letter)
            if len(found) >= limit:
                break
    return found


@dataclass
class ReplayReport:
    read: int = 0
    replayed: int = 0

    def __post_init__(self) -> None:
        self.to: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()


async def replay(
    publisher: Publisher,
    bootstrap_servers: str,
    topic: str,
    *,
    since: datetime | None = None,
    reasons: Sequence[str] = (),
    dry_run: bool = False,
) -> ReplayReport:
    """Publish the dead letters of ``topic`` (dead-lettered at or after ``since``, of the
    ``reasons`` given, all when none) to their origin topic; ``dry_run`` only counts."""
    report = ReplayReport()
    async for letter in read_dead_letters(bootstrap_servers, topic):
        report.read += 1
        if since is not None and letter.timestamp < since:
            continue
        if reasons and letter.reason not in reasons:
            continue
        target = origin_topic(letter, topic)
        if not dry_run:
            # Published within the dead letter's trace, so its traceparent goes on.
            token = otel_context.attach(tracing.context_from_headers(letter.headers))
            try:
                await publisher.publish(
                    target, letter.key, letter.value or b"", letter.replay_headers()
                )
            finally:
                otel_context.detach(token)
        report.replayed += 1
        report.to[target] += 1
        report.reasons[letter.reason] += 1
    return report


def parse_since(value: str) -> datetime:
    """A date (midnight UTC) or an ISO date and time (UTC unless it names its zone)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a date or date and time: {value!r} (e.g. 2024-05-01 or 2024-05-01T08:00)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog=PROG,
        usage="%(prog)s [-h] {list,show,replay} TOPIC [OPTIONS ...]",
        description=__doc__,
        epilog=describe_settings(DlqSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = main.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        child = sub.add_parser(name, prog=f"{PROG} {name}", help=help, description=help)
        child.add_argument("topic", metavar="TOPIC", help="e.g. articles.raw (or articles.raw.dlq)")
        return child

    listing = command("list", "count the dead letters of TOPIC, by reason, oldest and newest")
    listing.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    showing = command("show", "print dead letters: key, reason, origin, error, a payload excerpt")
    showing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    showing.add_argument("--reason", action="append", default=[], help="only this reason")
    showing.add_argument(
        "--payload-chars", type=int, default=PAYLOAD_EXCERPT, help="payload excerpt length"
    )
    replaying = command("replay", "publish the dead letters again to the topic they came from")
    replaying.add_argument(
        "--since", type=parse_since, help="only those dead-lettered at or after this date/time"
    )
    replaying.add_argument("--reason", action="append", default=[], help="only this reason")
    replaying.add_argument(
        "--dry-run", action="store_true", help="say what would be replayed, publish nothing"
    )
    return main


async def _run(args: argparse.Namespace, settings: DlqSettings) -> int:
    bootstrap = settings.kafka_bootstrap_servers
    topic = dlq_name(args.topic, settings.topic_prefix)
    if args.command == "list":
        summary = await summarize(bootstrap, topic)
        print(json.dumps(summary.as_json(), ensure_ascii=False) if args.json else summary.text())
        return 0
    if args.command == "show":
        letters = await show(bootstrap, topic, args.limit, args.reason)
        for letter in letters:
            print(describe(letter, args.payload_chars))
        print(f"({len(letters)} shown)", file=sys.stderr)
        return 0
    publisher = KafkaPublisher(bootstrap, client_id="dlq-replay")
    if not args.dry_run:
        try:
            await publisher.start()
        except Exception as exc:
            raise DlqError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        report = await replay(
            publisher,
            bootstrap,
            topic,
            since=args.since,
            reasons=args.reason,
            dry_run=args.dry_run,
        )
    finally:
        await publisher.stop()
    verb = "would replay" if args.dry_run else "replayed"
    where = ", ".join(f"{n} to {t}" for t, n in sorted(report.to.items())) or "nothing"
    why = ", ".join(f"{r} {n}" for r, n in sorted(report.reasons.items()))
    print(
        f"{topic}: {verb} {report.replayed} of {report.read} dead letters ({where})"
        + (f"; by reason: {why}" if why else "")
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = DlqSettings()
    # The client's own complaints repeat what the error line below says.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(_run(args, settings))
    except DlqError as exc:
        print(f"[dlq] error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
