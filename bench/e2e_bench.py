"""End to end: sustained articles/s and push-to-webhook latency, for an all-relevant load
and a realistic mix, each stage alone, and a bare three-hop aiokafka relay as the ceiling.

    python bench/e2e_bench.py [--sustained 600] [--rate 50] [--seconds 10] [--stage-articles 400]
                              [--database sqlite|postgres] [--out e2e]

Runs the whole system in a temporary directory (own broker on free loopback ports, the
four services as processes, SQLite or ``--database postgres``), subscribes one webhook endpoint to everything, and
pushes synthetic articles (each relevant one a distinct alliance):

- for each load, ``all`` (every article reports an alliance) and ``mix`` (one in ten does,
  the rest is hospital news): ``--sustained`` articles as fast as eight crawlers push them
  one a request, ``--sustained`` more as eight crawlers push feeds of 50 to the batch
  endpoint (articles/s from the first push until the registry took in every article and
  every alert arrived), then ``--rate`` articles/s for ``--seconds`` (push-to-webhook p50,
  p95, p99 over the alerts, matched to their articles by source URL); in every phase an
  alert that arrives twice (a webhook-id seen before) is counted as duplicated;
- each stage alone: consumers stopped, ``--stage-articles`` pushed to ingest (ingest's
  rate and CPU per article, half one by one, half in batches of 50), then extract,
  registry and notify started one at a time on the backlog the stage before left (each
  one's rate between 10 % and 90 % of the backlog, so start-up is not counted);
- the bare relay of the same payloads, as fast as one producer sends and at ``--rate``.

Writes bench/results/e2e.{json,md,png} (``--out`` names them otherwise; ``make bench`` runs
it on SQLite, the default, and on PostgreSQL as e2e-postgres).
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
from collections.abc import Callable
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
from tools.articles import SyntheticArticle, generate, generate_mix  # noqa: E402
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
    load: str  # "all" or "mix"
    rate: int  # pushes per second; 0: as fast as the crawlers go
    pushed: int
    accepted: int
    expected_alerts: int
    arrived: int
    latencies: list[float]
    push_seconds: float
    done_after_first_push: float
    cpu: dict[str, float]
    #: deliveries that arrived with a webhook-id seen before (the same alert twice)
    duplicated: int = 0
    #: articles per push: 1 for one article a request, more for a feed pushed in batches
    per_push: int = 1

    def summary(self) -> dict[str, Any]:
        return {
            "load": self.load,
            "rate": self.rate,
            "pushed": self.pushed,
            "accepted": self.accepted,
            "alerts_expected": self.expected_alerts,
            "alerts_arrived": self.arrived,
            "alerts_duplicated": self.duplicated,
            "articles_per_push": self.per_push,
            "latency_p50_ms": percentile(self.latencies, 0.50) * 1000,
            "latency_p95_ms": percentile(self.latencies, 0.95) * 1000,
            "latency_p99_ms": percentile(self.latencies, 0.99) * 1000,
            "articles_per_second": self.accepted / self.done_after_first_push
            if self.done_after_first_push
            else 0.0,
            "cpu_seconds": self.cpu,
        }


PUSHERS = 8
#: Articles per request when crawlers push their feeds (POST /v1/articles/batch).
FEED_BATCH = 50


async def push_fast(
    ingest: str, articles: list[SyntheticArticle], per_push: int = 1
) -> tuple[dict[str, float], int, float]:
    """Push as fast as ``PUSHERS`` crawlers go, one article a request or ``per_push`` at
    a time through the batch endpoint; the same answer as :func:`push_at_rate`."""
    sent: dict[str, float] = {}
    accepted = 0
    queue = [articles[i : i + per_push] for i in range(0, len(articles), per_push)][::-1]
    limits = httpx.Limits(max_connections=PUSHERS, max_keepalive_connections=PUSHERS)
    async with httpx.AsyncClient(
        limits=limits, timeout=60, headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"}
    ) as client:

        async def crawler() -> None:
            nonlocal accepted
            while queue:
                feed = queue.pop()
                pushed_at = time.time()
                sent.update((article.url, pushed_at) for article in feed)
                if per_push == 1:
                    answer = await client.post(ingest + "/v1/articles", json=feed[0].payload())
                    accepted += answer.status_code == 202
                    continue
                answer = await client.post(
                    ingest + "/v1/articles/batch", json=[a.payload() for a in feed]
                )
                if answer.status_code == 202:
                    accepted += sum(r["status"] == "accepted" for r in answer.json()["results"])

        started = time.monotonic()
        await asyncio.gather(*(crawler() for _ in range(PUSHERS)))
        return sent, accepted, time.monotonic() - started


#: Articles per ``POST /v1/articles/batch`` when ingest alone is measured on batches.
def metric_total(url: str, name: str) -> float:
    """The sum of a counter's samples on a service's /metrics (0 when it does not answer)."""
    try:
        text = httpx.get(url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def taken_in(stack: Stack) -> float:
    """Extractions the registry took in (applied, unchanged or stale)."""
    return metric_total(stack["registry"].url, "registry_extractions_total")


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
    load: str,
    articles: list[SyntheticArticle],
    rate: int,
    drain_seconds: float,
    per_push: int = 1,
) -> Phase:
    """Push ``articles`` (at ``rate``, or as fast as possible for 0, ``per_push`` a
    request) and wait until the registry took in every accepted one and every relevant
    one's alert arrived."""
    pids = processes(stack)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    before = len(receiver.snapshot())
    registry_before = taken_in(stack)
    ingest = stack["ingest"].url
    pushing = (
        push_at_rate(ingest, articles, rate) if rate > 0 else push_fast(ingest, articles, per_push)
    )
    sent, accepted, push_seconds = asyncio.run(pushing)
    alerting = {a.url for a in articles if a.relevant}
    deadline = time.monotonic() + drain_seconds
    arrival: dict[str, float] = {}
    registry_done: float | None = None
    looked = before  # webhooks up to here are already looked at
    while time.monotonic() < deadline:
        arrived = receiver.snapshot()[looked:]
        looked += len(arrived)
        for webhook in arrived:
            # A mix article may report an alliance an earlier phase created: an update.
            if webhook.payload.get("type") not in ("alliance.created", "alliance.updated"):
                continue
            for source in webhook.payload["alliance"].get("sources", []):
                if source.get("url") in alerting:
                    arrival.setdefault(source["url"], webhook.received_at)
        # The registry is asked only once every alert is in (each alert means that its
        # article was taken in): its /metrics costs it CPU the phase is measuring, and a
        # look every 20 ms keeps the end of the phase as sharp as the alerts' arrival.
        if len(arrival) >= len(alerting):
            if registry_done is None and taken_in(stack) - registry_before >= accepted:
                registry_done = time.time()
            if registry_done is not None:
                break
        time.sleep(0.02)
    time.sleep(1.0)  # a duplicate would come after the original: give it a moment
    webhook_ids = [w.webhook_id for w in receiver.snapshot()[before:]]
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    first_push = min(sent.values())
    done = max([*arrival.values(), registry_done or time.time()])
    return Phase(
        load=load,
        rate=rate,
        pushed=len(articles),
        accepted=accepted,
        expected_alerts=len(alerting),
        arrived=len(arrival),
        latencies=[arrival[u] - sent[u] for u in arrival],
        push_seconds=push_seconds,
        done_after_first_push=done - first_push,
        cpu=cpu,
        duplicated=len(webhook_ids) - len(set(webhook_ids)),
        per_push=per_push,
    )


def watch_rate(count: Callable[[], float], total: int, timeout: float) -> float:
    """Items per second from the last look below 10 % of ``total`` to the first at or over
    90 % (a stage that takes its backlog in batches may jump across both in one look)."""
    low, high = max(1, total // 10), max(2, total * 9 // 10)
    below: tuple[float, float] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now, seen = time.monotonic(), count()
        if seen < low:
            below = (now, seen)
        elif seen >= high and below is not None:
            return (seen - below[1]) / (now - below[0])
        time.sleep(0.05)
    return 0.0


def stages_alone(
    stack: Stack, receiver: WebhookReceiver, articles: list[SyntheticArticle], timeout: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Each stage's rate on its own: the consumers stopped, ingest takes the articles (half
    pushed one by one, half in batches of ``FEED_BATCH``), then extract, registry and notify
    are started one at a time on the backlog left for them. Also ingest's CPU ms per
    article, pushed one by one and in batches."""
    for name in ("notify", "registry", "extract"):
        stack[name].stop()
    ingest, pid = stack["ingest"].url, processes(stack)["ingest"]
    half = len(articles) // 2
    before = cpu_seconds(pid)
    _, accepted, seconds = asyncio.run(push_fast(ingest, articles[:half]))
    middle = cpu_seconds(pid)
    _, batched, batch_seconds = asyncio.run(push_fast(ingest, articles[half:], FEED_BATCH))
    ingest_cpu = {
        "one by one": (middle - before) * 1000 / max(half, 1),
        f"batches of {FEED_BATCH}": (cpu_seconds(pid) - middle)
        * 1000
        / max(len(articles) - half, 1),
    }
    rates = {
        "ingest": accepted / seconds if seconds else 0.0,
        f"ingest (batches of {FEED_BATCH})": batched / batch_seconds if batch_seconds else 0.0,
    }
    accepted += batched
    alerts_before = len(receiver.snapshot())
    counters = {
        "extract": lambda: metric_total(stack["extract"].url, "extract_articles_total"),
        "registry": lambda: taken_in(stack),
        "notify": lambda: len(receiver.snapshot()) - alerts_before,
    }
    for name in ("extract", "registry", "notify"):
        # A restarted service counts from zero; the receiver is counted from here.
        stack[name].start(stack.workdir)
        rates[name] = watch_rate(counters[name], accepted, timeout)
        stack[name].wait_ready()
        print(f"[e2e]   {name} alone: {rates[name]:.1f}/s", flush=True)
    return rates, ingest_cpu


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
        delay = started + n / rate - time.monotonic() if rate > 0 else 0
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


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rates, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    bars = {
        f"pipeline ({p['load']}, {push_unit(p)})": p["articles_per_second"]
        for p in result["pipeline"]
        if p["rate"] == 0
    }
    bars.update({f"{name} alone": rate for name, rate in result["stages_alone"].items()})
    bars["bare relay"] = result["bare_relay"][0]["throughput_per_second"]
    rates.barh(list(bars), list(bars.values()), color="tab:blue")
    rates.set_xscale("log")
    rates.set_xlabel("articles per second (log)")
    rates.set_title("Sustained, as fast as possible")
    rates.invert_yaxis()
    rates.grid(True, axis="x", which="both", alpha=0.3)
    paced = [p for p in result["pipeline"] if p["rate"] > 0]
    names = [f"{p['load']} at {p['rate']}/s" for p in paced]
    width = 0.25
    for shift, key in enumerate(("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")):
        latency.bar(
            [i + (shift - 1) * width for i in range(len(paced))],
            [p[key] for p in paced],
            width,
            label=key[8:11],
        )
    latency.axhline(1000, color="k", linestyle=":", linewidth=1, label="1 s")
    latency.set_xticks(range(len(paced)), names)
    latency.set_yscale("log")
    latency.set_ylabel("push-to-webhook latency (ms, log)")
    latency.set_title("Latency at a fixed rate")
    latency.legend()
    figure.suptitle("Alliance Watch end to end, one machine")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def setup(result: dict[str, Any]) -> str:
    database = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[result.get("database", "sqlite")]
    return f"{database}, 3 partitions, one replica each"


def push_unit(phase: dict[str, Any]) -> str:
    per_push = phase.get("articles_per_push", 1)
    return f"feeds of {per_push}" if per_push > 1 else "one a request"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# End to end ({result['machine']}; {setup(result)})",
        "",
        "| load | pushed as | push rate | pushed | alerts (expected) | duplicated "
        "| p50 ms | p95 ms | p99 ms | articles/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in result["pipeline"]:
        rate = f"{p['rate']}/s" if p["rate"] else "as fast as possible"
        unit = push_unit(p)
        lines.append(
            f"| {p['load']} | {unit} | {rate} | {p['pushed']} | {p['alerts_arrived']} "
            f"({p['alerts_expected']}) | {p['alerts_duplicated']} | {p['latency_p50_ms']:.0f} "
            f"| {p['latency_p95_ms']:.0f} | {p['latency_p99_ms']:.0f} "
            f"| {p['articles_per_second']:.1f} |"
        )
    lines += ["", "Each stage alone, on a backlog (articles/s):", ""]
    lines.append("| " + " | ".join(result["stages_alone"]) + " |")
    lines.append("| " + " | ".join("---" for _ in result["stages_alone"]) + " |")
    lines.append("| " + " | ".join(f"{v:.1f}" for v in result["stages_alone"].values()) + " |")
    cpu = result.get("ingest_cpu_ms_per_article", {})
    if cpu:
        lines += ["", "Ingest CPU ms per article: " + ", ".join(f"{k} {v}" for k, v in cpu.items())]
    lines += ["", "Bare three-hop aiokafka relay of the same payloads:", ""]
    lines.append("| push rate | messages | p50 ms | p99 ms | messages/s |")
    lines.append("| --- | --- | --- | --- | --- |")
    for r in result["bare_relay"]:
        rate = f"{r['rate']}/s" if r["rate"] else "as fast as possible"
        lines.append(
            f"| {rate} | {r['arrived']} | {r['latency_p50_ms']:.1f} | {r['latency_p99_ms']:.1f} "
            f"| {r['throughput_per_second']:.1f} |"
        )
    ratio = result["sustained_over_relay"]
    lines += ["", f"Sustained all-relevant pipeline / bare relay: {ratio:.3f}", ""]
    lines += ["CPU seconds per process, by phase:", ""]
    names = sorted(result["pipeline"][0]["cpu_seconds"])
    lines.append("| load | pushed as | push rate | " + " | ".join(names) + " |")
    lines.append("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for p in result["pipeline"]:
        rate = f"{p['rate']}/s" if p["rate"] else "max"
        cpu = " | ".join(str(p["cpu_seconds"].get(n, "")) for n in names)
        lines.append(f"| {p['load']} | {push_unit(p)} | {rate} | {cpu} |")
    lines += [
        "",
        "Peak resident memory (MB, with child processes): "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["peak_rss_mb"].items())),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sustained", type=int, default=600, help="articles pushed at full speed")
    parser.add_argument("--rate", type=int, default=50, help="articles/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency phase")
    parser.add_argument("--stage-articles", type=int, default=400)
    parser.add_argument("--drain", type=float, default=180, help="seconds to wait per phase")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="where ingest, registry and notify keep their data (postgres: a local server)",
    )
    parser.add_argument(
        "--out", default="e2e", help="results file name in bench/results (without suffix)"
    )
    args = parser.parse_args()
    paced = int(args.rate * args.seconds)
    run = f"bench{int(time.time())}"
    loads = {
        "all": list(generate(2 * args.sustained + paced + args.stage_articles, seed=3, run=run)),
        "mix": list(generate_mix(2 * args.sustained + paced, seed=5, run=run + "m")),
    }
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="aw-e2e-bench-") as workdir, WebhookReceiver() as rx:
        stack = Stack(Path(workdir), partitions=3, database=args.database)
        stack.start()
        try:
            bureau = stack.create_bureau("国家卫生健康委员会")
            rx.secrets["all"] = stack.subscribe(bureau, "all", rx.url("all"), {})["secret"]
            for load, corpus in loads.items():
                fast, feeds = args.sustained, 2 * args.sustained
                for rate, per_push, batch in (
                    (0, 1, corpus[:fast]),
                    (0, FEED_BATCH, corpus[fast:feeds]),
                    (args.rate, 1, corpus[feeds : feeds + paced]),
                ):
                    pace = f"{rate}/s" if rate else "as fast as possible"
                    unit = f"feeds of {per_push}" if per_push > 1 else "one a request"
                    print(f"[e2e] {load}: {len(batch)} articles, {unit}, {pace} ...", flush=True)
                    phases.append(run_phase(stack, rx, load, batch, rate, args.drain, per_push))
                    print(
                        f"[e2e]   {json.dumps(phases[-1].summary(), ensure_ascii=False)}",
                        flush=True,
                    )
            print(f"[e2e] each stage alone, {args.stage_articles} articles ...", flush=True)
            stages, ingest_cpu = stages_alone(
                stack, rx, loads["all"][-args.stage_articles :], args.drain
            )
            pids = processes(stack)
            memory = {name: round(peak_rss_mb(pid), 1) for name, pid in pids.items()}
            assert stack.kafka is not None
            encoded = [
                json.dumps(a.payload(), ensure_ascii=False).encode()
                for a in loads["all"][: max(args.sustained, paced)]
            ]
            relays = []
            for rate, count in ((0, args.sustained), (args.rate, paced)):
                print(
                    f"[e2e] bare relay: {count} messages at {rate or 'full speed'}/s ...",
                    flush=True,
                )
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
    sustained_all = max(
        (p for p in summaries if p["load"] == "all" and p["rate"] == 0),
        key=lambda p: p["articles_per_second"],
    )
    relay_max = relays[0]["throughput_per_second"]
    result = {
        "benchmark": "e2e",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": args.database,
        "pipeline": summaries,
        "stages_alone": {k: round(v, 1) for k, v in stages.items()},
        "ingest_cpu_ms_per_article": {k: round(v, 2) for k, v in ingest_cpu.items()},
        "bare_relay": relays,
        "sustained_over_relay": sustained_all["articles_per_second"] / relay_max
        if relay_max
        else 0.0,
        "lost_alerts": sum(p["alerts_expected"] - p["alerts_arrived"] for p in summaries),
        "duplicated_alerts": sum(p["alerts_duplicated"] for p in summaries),
        "peak_rss_mb": memory,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    plot(result, RESULTS / f"{args.out}.png")
    text = markdown(result)
    (RESULTS / f"{args.out}.md").write_text(text)
    print(text)
    if result["lost_alerts"] or result["duplicated_alerts"]:
        print(
            f"[e2e] {result['lost_alerts']} alerts did not arrive in time, "
            f"{result['duplicated_alerts']} arrived twice",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
