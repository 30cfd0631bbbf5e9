"""Bare aiokafka throughput through the local broker: the ceiling for every pipeline stage.

Produces N messages of S bytes with the same producer settings the services use
(acks=all, idempotent), then consumes them with a consumer group committing per batch.
Starts its own broker in a temporary directory; writes bench/results/kafka.json and .md.

    python bench/kafka_bench.py [--messages 10000] [--size 4096]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.localkafka import LocalKafka, install  # noqa: E402

RESULTS = ROOT / "bench" / "results"


async def produce(bootstrap: str, topic: str, count: int, size: int) -> dict[str, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    payload = os.urandom(size // 2).hex().encode()[:size]
    latencies: list[float] = []
    try:
        started = time.perf_counter()
        pending = []
        for n in range(count):
            sent_at = time.perf_counter()
            future = await producer.send(topic, payload, key=str(n).encode())
            future.add_done_callback(
                lambda _f, t=sent_at: latencies.append(time.perf_counter() - t)
            )
            pending.append(future)
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    latencies.sort()
    return {
        "seconds": elapsed,
        "messages_per_second": count / elapsed,
        "megabytes_per_second": count * size / elapsed / 1e6,
        "ack_latency_p50_ms": latencies[len(latencies) // 2] * 1000,
        "ack_latency_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def single_sends(bootstrap: str, topic: str, count: int, size: int) -> dict[str, float]:
    """One message at a time, waiting for each ack: what ingest does per request."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    payload = b"x" * size
    latencies = []
    try:
        for n in range(count):
            started = time.perf_counter()
            await producer.send_and_wait(topic, payload, key=str(n).encode())
            latencies.append(time.perf_counter() - started)
    finally:
        await producer.stop()
    latencies.sort()
    return {
        "messages": count,
        "send_and_wait_p50_ms": latencies[len(latencies) // 2] * 1000,
        "send_and_wait_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def consume(bootstrap: str, topic: str, count: int) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="bench",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    try:
        started = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            seen += sum(len(msgs) for msgs in batches.values())
            if batches:
                await consumer.commit()
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"seconds": elapsed, "messages_per_second": seen / elapsed}


async def bench(bootstrap: str, count: int, size: int) -> dict[str, object]:
    topic = f"bench.{int(time.time())}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, 1), NewTopic(topic + ".single", 1, 1)])
    finally:
        await admin.close()
    produced = await produce(bootstrap, topic, count, size)
    consumed = await consume(bootstrap, topic, count)
    single = await single_sends(bootstrap, topic + ".single", min(1000, count), size)
    return {"produce": produced, "consume": consumed, "single": single}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    libs = install()
    with tempfile.TemporaryDirectory(prefix="aw-bench-kafka-") as workdir:
        broker = LocalKafka(Path(workdir), libs=libs)
        started = time.perf_counter()
        broker.start()
        broker_start = time.perf_counter() - started
        try:
            figures = asyncio.run(bench(broker.bootstrap_servers, args.messages, args.size))
        finally:
            broker.stop()
    result = {
        "benchmark": "kafka",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "messages": args.messages,
        "message_bytes": args.size,
        "broker_start_seconds": broker_start,
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kafka.json").write_text(json.dumps(result, indent=2) + "\n")
    p, c, s = figures["produce"], figures["consume"], figures["single"]
    assert isinstance(p, dict) and isinstance(c, dict) and isinstance(s, dict)
    table = "\n".join(
        [
            f"# Kafka ceiling ({args.messages} x {args.size} B, acks=all, idempotent)",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| broker start (spawn to admin answer) | {broker_start:.1f} s |",
            f"| produce | {p['messages_per_second']:.0f} msg/s, {p['megabytes_per_second']:.1f} MB/s |",
            f"| produce ack latency p50 / p99 (pipelined) | {p['ack_latency_p50_ms']:.1f} / {p['ack_latency_p99_ms']:.1f} ms |",
            f"| consume (group, commit per batch) | {c['messages_per_second']:.0f} msg/s |",
            f"| one send_and_wait, p50 / p99 | {s['send_and_wait_p50_ms']:.2f} / {s['send_and_wait_p99_ms']:.2f} ms |",
            "",
        ]
    )
    (RESULTS / "kafka.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
