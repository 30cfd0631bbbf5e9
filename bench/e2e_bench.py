"""End to end: push-to-webhook latency at fixed rates, sustained throughput, and the
ceiling of a bare three-hop aiokafka relay of the same payloads on the same broker.

    python bench/e2e_bench.py [--rates 10,50,200] [--seconds 10]

Runs the whole system in a temporary directory (own broker on free loopback ports, the
four services as processes, SQLite), subscribes one webhook endpoint to everything, and
pushes synthetic articles (each a distinct alliance) at each rate for ``--seconds``
(fewer at the highest rate, see ``--max-articles``). Latency is from the push to the
signed webhook arriving. Writes bench/results/e2e.{json,md,png}.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchstats import percentile  # noqa: E402
from tools.articles import SyntheticArticle, generate  # noqa: E402
from tools.harness import CRAWLER_TOKEN, Stack, WebhookReceiver  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 on)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def with_children(pid: int) -> list[int]:
    """The process and its live descendants: extract's work is done by its worker process."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(_stat(int(stat.parent.name))[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while we looked: its time is in its parent's cutime now
    family = [pid]
    for member in family:
        family += [child for child, parent in parents.items() if parent == member]
    return family


def cpu_seconds(pid: int) -> float:
    """User and system time of the process, its reaped children (such as replaced extraction
    workers) and its live descendants."""
    total = 0
    for member in with_children(pid):
        fields = _stat(member)
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the process plus that of its live descendants."""
    total_kb = 0
    for member in with_children(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024 if total_kb else float("nan")


def processes(stack: Stack) -> dict[str, int]:
    pids = {name: s.process.pid for name, s in stack.services.items() if s.process}
    assert stack.kafka is not None
    pid_file = stack.kafka.pid_path
    if pid_file.exists():
        pids["kafka"] = int(pid_file.read_text().strip())
    return pids


@dataclass
class Phase:
    rate: int
    pushed: int
    accepted: int
    arrived: int
    latencies: list[float]
    push_seconds: float
    last_arrival_after_first_push: float
    cpu: dict[str, float]

    def summary(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "pushed": self.pushed,
            "accepted": self.accepted,
            "alerts_arrived": self.arrived,
            "latency_p50_ms": percentile(self.latencies, 0.50) * 1000,
            "latency_p95_ms": percentile(self.latencies, 0.95) * 1000,
            "latency_p99_ms": percentile(self.latencies, 0.99) * 1000,
            "throughput_per_second": self.arrived / self.last_arrival_after_first_push
            if self.last_arrival_after_first_push
            else 0.0,
            "cpu_seconds": self.cpu,
        }


async def push_at_rate(
    ingest: str, articles: list[SyntheticArticle], rate: int
) -> tuple[dict[str, float], int, float]:
    """Push on a fixed schedule; returns push start time by URL, accepted count, seconds."""
    sent: dict[str, float] = {}
    accepted = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        limits=limits, timeout=30, headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"}
    ) as client:

        async def push(article: SyntheticArticle) -> None:
            nonlocal accepted
            sent[article.url] = time.time()
            answer = await client.post(ingest + "/v1/articles", json=article.payload())
            accepted += answer.status_code == 202

        started = time.monotonic()
        tasks = []
        for n, article in enumerate(articles):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(push(article)))
        await asyncio.gather(*tasks)
        return sent, accepted, time.monotonic() - started


def run_phase(
    stack: Stack,
    receiver: WebhookReceiver,
    articles: list[SyntheticArticle],
    rate: int,
    drain_seconds: float,
) -> Phase:
    pids = processes(stack)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    before = len(receiver.snapshot())
    sent, accepted, push_seconds = asyncio.run(push_at_rate(stack["ingest"].url, articles, rate))
    urls = set(sent)
    deadline = time.monotonic() + drain_seconds
    arrival: dict[str, float] = {}
    while time.monotonic() < deadline:
        for webhook in receiver.snapshot()[before:]:
            if webhook.payload.get("type") != "alliance.created":
                continue
            for source in webhook.payload["alliance"].get("sources", []):
                if source.get("url") in urls:
                    arrival.setdefault(source["url"], webhook.received_at)
        if len(arrival) >= len(urls):
            break
        time.sleep(0.2)
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    first_push = min(sent.values())
    return Phase(
        rate=rate,
        pushed=len(articles),
        accepted=accepted,
        arrived=len(arrival),
        latencies=[arrival[u] - sent[u] for u in arrival],
        push_seconds=push_seconds,
        last_arrival_after_first_push=max(arrival.values(), default=first_push) - first_push,
        cpu=cpu,
    )


async def relay_ceiling(
    bootstrap: str, payloads: list[bytes], rate: int, prefix: str
) -> dict[str, float]:
    """The same payloads through three bare consume-produce hops: no parsing, no work."""
    hops = [f"{prefix}relay{n}" for n in range(4)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1) for name in hops])
        while len(await admin.describe_topics(hops)) < len(hops):
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    await asyncio.sleep(1)  # new topics take a moment to reach the metadata of clients
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    relays: list[tuple[AIOKafkaConsumer, AIOKafkaProducer]] = []
    stop = asyncio.Event()

    async def relay(source: str, target: str) -> None:
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=f"{source}-relay",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        out = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await consumer.start()
        await out.start()
        relays.append((consumer, out))
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=100)
            for messages in batches.values():
                for message in messages:
                    await out.send_and_wait(target, message.value, key=message.key)
            if batches:
                await consumer.commit()

    arrivals: dict[bytes, float] = {}

    async def sink() -> None:
        consumer = AIOKafkaConsumer(
            hops[-1],
            bootstrap_servers=bootstrap,
            group_id=f"{hops[-1]}-sink",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for messages in batches.values():
                    for message in messages:
                        arrivals.setdefault(message.key or b"", time.time())
        finally:
            await consumer.stop()

    tasks = [asyncio.create_task(relay(a, b)) for a, b in zip(hops, hops[1:], strict=False)]
    tasks.append(asyncio.create_task(sink()))
    await asyncio.sleep(3)  # let the groups form
    sent: dict[bytes, float] = {}
    started = time.monotonic()
    for n, payload in enumerate(payloads):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        key = str(n).encode()
        sent[key] = time.time()
        await producer.send_and_wait(hops[0], payload, key=key)
    deadline = time.monotonic() + 60
    while len(arrivals) < len(payloads) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for consumer, out in relays:
        await consumer.stop()
        await out.stop()
    await producer.stop()
    latencies = [arrivals[k] - sent[k] for k in arrivals]
    span = max(arrivals.values(), default=0) - min(sent.values())
    return {
        "rate": rate,
        "messages": len(payloads),
        "arrived": len(arrivals),
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p95_ms": percentile(latencies, 0.95) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "throughput_per_second": len(arrivals) / span if span > 0 else 0.0,
    }


def plot(phases: list[dict[str, Any]], relays: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2))
    rates = [p["rate"] for p in phases]
    for key, style in (
        ("latency_p50_ms", "o-"),
        ("latency_p95_ms", "s--"),
        ("latency_p99_ms", "^:"),
    ):
        axis.plot(rates, [p[key] for p in phases], style, label=f"pipeline {key[8:11]}")
    axis.plot(
        [r["rate"] for r in relays],
        [r["latency_p50_ms"] for r in relays],
        "k.-",
        label="bare 3-hop relay p50",
    )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("push rate (articles per second)")
    axis.set_ylabel("push-to-webhook latency (ms)")
    axis.set_title("Alliance Watch end to end, one machine (2 cores)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="10,50,200")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-articles", type=int, default=1000)
    parser.add_argument("--drain", type=float, default=120, help="seconds to wait per phase")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    counts = [min(args.max_articles, int(rate * args.seconds)) for rate in rates]
    corpus = list(generate(sum(counts), seed=3, run=f"bench{int(time.time())}"))
    phases: list[Phase] = []
    relays: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aw-e2e-bench-") as workdir, WebhookReceiver() as rx:
        stack = Stack(Path(workdir), partitions=3)
        stack.start()
        try:
            bureau = stack.create_bureau("国家卫生健康委员会")
            rx.secrets["all"] = stack.subscribe(bureau, "all", rx.url("all"), {})["secret"]
            offset = 0
            for rate, count in zip(rates, counts, strict=True):
                batch = corpus[offset : offset + count]
                offset += count
                print(f"[e2e] {count} articles at {rate}/s ...", flush=True)
                phases.append(run_phase(stack, rx, batch, rate, args.drain))
                print(f"[e2e]   {json.dumps(phases[-1].summary(), ensure_ascii=False)}", flush=True)
            pids = processes(stack)
            memory = {name: round(peak_rss_mb(pid), 1) for name, pid in pids.items()}
            assert stack.kafka is not None
            payloads = [a.payload() for a in corpus[: max(counts)]]
            encoded = [json.dumps(p, ensure_ascii=False).encode() for p in payloads]
            for rate, count in zip(rates, counts, strict=True):
                print(f"[e2e] bare relay: {count} messages at {rate}/s ...", flush=True)
                relays.append(
                    asyncio.run(
                        relay_ceiling(
                            stack.kafka.bootstrap_servers, encoded[:count], rate, f"ceiling{rate}."
                        )
                    )
                )
        finally:
            stack.stop()

    summaries = [p.summary() for p in phases]
    result = {
        "benchmark": "e2e",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pipeline": summaries,
        "bare_relay": relays,
        "peak_rss_mb": memory,
        "ratios_pipeline_over_relay": [
            {
                "rate": p["rate"],
                "latency_p50": p["latency_p50_ms"] / r["latency_p50_ms"]
                if r["latency_p50_ms"]
                else None,
                "throughput": p["throughput_per_second"] / r["throughput_per_second"]
                if r["throughput_per_second"]
                else None,
            }
            for p, r in zip(summaries, relays, strict=True)
        ],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    plot(summaries, relays, RESULTS / "e2e.png")
    lines = [
        "# End to end: push to signed webhook (one machine, SQLite, 3 partitions)",
        "",
        "| rate /s | pushed | alerts | p50 ms | p95 ms | p99 ms | through /s | relay p50 ms | relay /s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p, r in zip(summaries, relays, strict=True):
        lines.append(
            f"| {p['rate']} | {p['pushed']} | {p['alerts_arrived']} | {p['latency_p50_ms']:.0f} "
            f"| {p['latency_p95_ms']:.0f} | {p['latency_p99_ms']:.0f} | {p['throughput_per_second']:.1f} "
            f"| {r['latency_p50_ms']:.1f} | {r['throughput_per_second']:.1f} |"
        )
    lines += ["", "CPU seconds per process, by phase:", ""]
    names = sorted(summaries[0]["cpu_seconds"])
    lines.append("| rate /s | " + " | ".join(names) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in names) + " |")
    for p in summaries:
        lines.append(
            f"| {p['rate']} | " + " | ".join(str(p["cpu_seconds"][n]) for n in names) + " |"
        )
    lines += [
        "",
        "Peak resident memory (MB, with child processes): "
        + ", ".join(f"{k} {v}" for k, v in sorted(memory.items())),
        "",
    ]
    (RESULTS / "e2e.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
