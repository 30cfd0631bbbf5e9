"""Notify's CPU per change, on its own: intake and delivery worker in one process, no broker.

Builds the notify service in-process (SQLite in a temporary directory, the SSRF-guarded
client opened for 127.0.0.1/32 only), subscribes one catch-all webhook (as
``bench/profile_bench.py`` does), and hands ``--changes`` alliance changes to the
consumer's batch handler, ``--batch`` at a time (a Kafka fetch), at ``--rate`` changes a
second (0: as fast as the intake goes), while the delivery worker runs beside it. The
webhook receiver is a separate process, so its CPU is not counted. Reports the process's
CPU (all threads: the SQL runs in worker threads) per change, from the first change handed
over to the last webhook received, and how evenly the alerts arrived (the longest gap). The service's log
lines go to stderr, JSON as in production.

    python bench/notify_cpu_bench.py [--changes 2000] [--batch 10] [--rate 0] 2>/dev/null

Under py-spy, to see where that CPU goes:

    py-spy record --rate 200 --format raw -o /tmp/notify.txt -- \
        python bench/notify_cpu_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.notify_bench import sample_change  # noqa: E402
from services.common.kafka.records import Record  # noqa: E402
from services.common.logs import configure_logging  # noqa: E402
from services.notify.adapters.migrate import upgrade  # noqa: E402
from services.notify.adapters.sealing import new_key  # noqa: E402
from services.notify.bootstrap import build_components  # noqa: E402
from services.notify.config import NotifySettings  # noqa: E402
from services.notify.domain.models import SubscriptionCreate  # noqa: E402
from services.notify.entrypoints.consumer import make_notify_batch_handler  # noqa: E402


def receive(port: Any, arrivals: Any) -> None:
    """The webhook endpoint, in its own process: counts arrivals, keeps their times."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            arrivals.put(time.time())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


async def bench(workdir: Path, url: str, arrivals: Any, args: argparse.Namespace) -> dict[str, Any]:
    settings = NotifySettings(
        _env_file=None,  # type: ignore[call-arg]
        APP_ENV="test",
        NOTIFY_DATABASE_URL=f"sqlite:///{workdir / 'notify.db'}",
        NOTIFY_OPERATOR_TOKEN="bench-operator-token-0123456789abcdef",
        NOTIFY_SECRETS_KEY=new_key(),
        NOTIFY_ALLOWED_NETWORKS="127.0.0.1/32",
    )
    parts = build_components(settings)
    upgrade(parts.engine, "head", parts.box)
    bureau = await parts.service.create_bureau("国家卫生健康委员会")
    await parts.service.create_subscription(
        bureau.id, SubscriptionCreate(name="all", channel="webhook", url=url)
    )
    handler = make_notify_batch_handler(parts.service)
    changes = [sample_change(n, "cpu") for n in range(args.changes)]
    parts.worker.start()
    got: list[float] = []
    try:
        cpu0, wall0 = time.process_time(), time.time()
        for start in range(0, len(changes), args.batch):
            batch = changes[start : start + args.batch]
            records = [
                (c, Record("alliances.changes", 0, start + i, c.alliance_id.encode(), b""))
                for i, c in enumerate(batch)
            ]
            await handler(records)
            if args.rate:
                await asyncio.sleep(
                    max(0.0, wall0 + (start + len(batch)) / args.rate - time.time())
                )
            else:
                await asyncio.sleep(0)
        deadline = time.time() + 300
        while len(got) < len(changes) and time.time() < deadline:
            while not arrivals.empty():
                got.append(arrivals.get())
            await asyncio.sleep(0.005)
        cpu, wall = time.process_time() - cpu0, time.time() - wall0
    finally:
        await parts.worker.stop()
        await parts.client.aclose()
        parts.engine.dispose()
    got.sort()
    gaps = [b - a for a, b in zip([wall0, *got], got, strict=False)]
    return {
        "changes": len(changes),
        "arrived": len(got),
        "cpu_seconds": round(cpu, 3),
        "cpu_ms_per_change": round(1000 * cpu / len(changes), 3),
        "seconds": round(wall, 3),
        "alerts_per_second": round(len(got) / wall, 1),
        "longest_gap_ms": round(1000 * max(gaps), 1) if gaps else None,
        "rounds": parts.worker.rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10, help="changes a fetch")
    parser.add_argument("--rate", type=float, default=0, help="changes/s; 0 = as fast as can be")
    args = parser.parse_args()
    # JSON lines on stderr, as the service logs (one per change batch and per attempt).
    configure_logging("notify")
    port = multiprocessing.Value("i", 0)
    arrivals: Any = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=receive, args=(port, arrivals), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.01)
    try:
        with tempfile.TemporaryDirectory(prefix="aw-notify-cpu-") as workdir:
            url = f"http://127.0.0.1:{port.value}/hook"
            figures = asyncio.run(bench(Path(workdir), url, arrivals, args))
    finally:
        receiver.terminate()
    figures = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch": args.batch,
        "rate": args.rate,
        **figures,
    }
    print(json.dumps(figures, indent=2))
    return 0 if figures["arrived"] == figures["changes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
