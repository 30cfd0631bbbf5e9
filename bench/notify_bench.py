"""Change-to-webhook latency of notify through the real broker, on loopback.

Starts its own Kafka broker, runs the notify service in-process (SQLite, the real consumer,
the real delivery worker, the SSRF-guarded client opened for 127.0.0.1/32 only), with a
local webhook receiver and a set of bureaus' subscriptions of which some match. Publishes
AllianceChange messages to ``alliances.changes`` and measures, for each, from just before
the publish to the receiver's arrival of the signed webhook:

- paced: one change every ``--interval`` ms (the latency a bureau sees in normal times);
- burst: ``--burst`` changes published at once (latency under load, and throughput).

Writes bench/results/notify.json and .md.

    python bench/notify_bench.py [--changes 300] [--interval 20] [--burst 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchstats import percentile  # noqa: E402
from services.common.contracts import (  # noqa: E402
    TOPIC_ALLIANCES_CHANGES,
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
    EventType,
    Institution,
    encode,
)
from services.common.kafka.publisher import KafkaPublisher  # noqa: E402
from services.notify.adapters.sealing import new_key  # noqa: E402
from services.notify.bootstrap import build_app  # noqa: E402
from services.notify.config import NotifySettings  # noqa: E402
from tools.localkafka import LocalKafka, install  # noqa: E402
from tools.topics import ensure_topics  # noqa: E402

RESULTS = ROOT / "bench" / "results"
OPERATOR = "bench-operator-token-0123456789abcdef"


class Arrivals:
    """change_id -> arrival time at the receiver."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.count = 0

    def serve(self) -> ThreadingHTTPServer:
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint would

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.time()
                change_id = json.loads(body)["change_id"]
                with arrivals.lock:
                    arrivals.at.setdefault(change_id, now)
                    arrivals.count += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def sample_change(n: int, tag: str) -> AllianceChange:
    now = datetime.now(UTC)
    lead = Institution(id="i-lead", name="四川大学华西医院", province="四川省", city="成都市")
    members = tuple(
        Institution(id=f"i-{k}", name=f"南充市第{k}人民医院", province="四川省", city="南充市")
        for k in range(1, 6)
    )
    alliance = Alliance(
        id=f"al-{tag}-{n}",
        type=EventType.specialty_alliance,
        specialty="骨科",
        lead=(lead,),
        members=members,
        date="2024-05-01",
        provinces=("四川",),
        confidence=0.9,
        first_seen=now,
        last_seen=now,
        sources=(
            AllianceSource(
                article_id=f"u{n}",
                url=f"https://news.example.cn/{n}.html",
                title="骨科专科联盟成立",
                evidence="四川大学华西医院牵头成立骨科专科联盟。",
            ),
        ),
    )
    return AllianceChange(
        change_id=f"c-{tag}-{n}",
        alliance_id=alliance.id,
        kind=ChangeKind.created,
        alliance=alliance,
        occurred_at=now,
    )


def summary(latencies: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 0.50),
        "p90_ms": percentile(ms, 0.90),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
    }


async def wait_for(arrivals: Arrivals, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with arrivals.lock:
            if all(i in arrivals.at for i in ids):
                return
        await asyncio.sleep(0.01)
    missing = [i for i in ids if i not in arrivals.at]
    raise RuntimeError(f"{len(missing)} alerts did not arrive in {timeout}s")


async def bench(bootstrap: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"b{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, partitions=3, prefix=prefix)
    settings = NotifySettings(
        _env_file=None,  # type: ignore[call-arg]
        APP_ENV="test",
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        TOPIC_PREFIX=prefix,
        NOTIFY_GROUP_ID=f"{prefix}notify",
        NOTIFY_DATABASE_URL=f"sqlite:///{workdir / 'notify.db'}",
        NOTIFY_OPERATOR_TOKEN=OPERATOR,
        NOTIFY_SECRETS_KEY=new_key(),
        NOTIFY_ALLOWED_NETWORKS="127.0.0.1/32",
    )
    app = build_app(settings)
    arrivals = Arrivals()
    server = arrivals.serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    publisher = KafkaPublisher(bootstrap)
    await publisher.start()
    topic = prefix + TOPIC_ALLIANCES_CHANGES
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                op = {"Authorization": f"Bearer {OPERATOR}"}
                # One matching subscription, and others' that do not match.
                for n in range(args.bureaus):
                    key = (
                        await client.post("/v1/bureaus", json={"name": f"局{n}"}, headers=op)
                    ).json()
                    auth = {"Authorization": f"Bearer {key['api_key']}"}
                    filters = {"provinces": ["四川"]} if n == 0 else {"provinces": ["山西"]}
                    answer = await client.post(
                        "/v1/subscriptions",
                        json={"name": "s", "channel": "webhook", "url": url, "filters": filters},
                        headers=auth,
                    )
                    answer.raise_for_status()
                # Warm up: the consumer joins its group, connections open.
                warm = sample_change(0, "warm")
                await publisher.publish(topic, warm.alliance_id.encode(), encode(warm))
                await wait_for(arrivals, [warm.change_id], 60)

                sent: dict[str, float] = {}
                for n in range(args.changes):
                    change = sample_change(n, "paced")
                    sent[change.change_id] = time.time()
                    await publisher.publish(topic, change.alliance_id.encode(), encode(change))
                    await asyncio.sleep(args.interval / 1000)
                await wait_for(arrivals, list(sent), 120)
                paced = summary([arrivals.at[i] - sent[i] for i in sent])

                burst_sent: dict[str, float] = {}
                changes = [sample_change(n, "burst") for n in range(args.burst)]
                started = time.time()
                for change in changes:
                    burst_sent[change.change_id] = time.time()
                    await publisher.publish(topic, change.alliance_id.encode(), encode(change))
                await wait_for(arrivals, list(burst_sent), 300)
                finished = max(arrivals.at[i] for i in burst_sent)
                burst = summary([arrivals.at[i] - burst_sent[i] for i in burst_sent])
                burst["alerts_per_second"] = args.burst / (finished - started)
    finally:
        await publisher.stop()
        server.shutdown()
        server.server_close()
    return {
        "paced": paced,
        "burst": burst,
        "duplicates": arrivals.count - len(arrivals.at),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--interval", type=float, default=20.0, help="ms between paced changes")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--bureaus", type=int, default=50)
    args = parser.parse_args()
    libs = install()
    with tempfile.TemporaryDirectory(prefix="aw-bench-notify-") as workdir:
        broker = LocalKafka(Path(workdir) / "kafka", libs=libs)
        broker.start()
        try:
            figures = asyncio.run(bench(broker.bootstrap_servers, Path(workdir), args))
        finally:
            broker.stop()
    result = {
        "benchmark": "notify",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "setup": (
            f"real Kafka (3 partitions), notify in-process on SQLite, {args.bureaus} bureaus "
            "with one webhook subscription each, 1 matching; loopback receiver"
        ),
        "changes": args.changes,
        "interval_ms": args.interval,
        "burst_changes": args.burst,
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    p, b = figures["paced"], figures["burst"]
    table = "\n".join(
        [
            "# notify: change-to-webhook latency (publish to alliances.changes -> signed "
            "webhook received)",
            "",
            f"{result['setup']}; {result['machine']}.",
            "",
            "| run | alerts | p50 | p90 | p99 | max | throughput |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| paced, one every {args.interval:g} ms | {p['count']} | {p['p50_ms']:.1f} ms | "
            f"{p['p90_ms']:.1f} ms | {p['p99_ms']:.1f} ms | {p['max_ms']:.1f} ms | |",
            f"| burst of {args.burst} | {b['count']} | {b['p50_ms']:.1f} ms | "
            f"{b['p90_ms']:.1f} ms | {b['p99_ms']:.1f} ms | {b['max_ms']:.1f} ms | "
            f"{b['alerts_per_second']:.0f} alerts/s |",
            "",
            f"Duplicate arrivals: {figures['duplicates']}.",
            "",
        ]
    )
    (RESULTS / "notify.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
