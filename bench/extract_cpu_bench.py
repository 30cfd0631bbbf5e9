"""Extract's CPU per article, on its own: the batch handler and its worker process, no broker.

Builds ``--workers`` extraction worker processes and the consumer's batch handler (as
``services/extract/bootstrap.py`` does, an in-memory publisher in place of Kafka) and
hands it ``--articles`` synthetic articles (``tools/articles.py``, the end-to-end
benchmark's) ``--batch`` at a time (a Kafka fetch) on ``--partitions`` partitions. Reports
the CPU the service's process used (all its threads) and the CPU its workers used, each
per article; the best of ``--repeat`` runs, as the machine may be busy with other work.

    python bench/extract_cpu_bench.py [--articles 2000] [--batch 100] [--repeat 3]

Under py-spy, to see where that CPU goes (``--subprocesses`` follows the workers):

    py-spy record --subprocesses --rate 200 --format raw -o /tmp/extract.txt -- \
        python bench/extract_cpu_bench.py --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.common.contracts import RawArticle, decode, encode  # noqa: E402
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher  # noqa: E402
from services.common.kafka.records import Record  # noqa: E402
from services.extract.adapters.isolation import ExtractionProcess  # noqa: E402
from services.extract.entrypoints.consumer import (  # noqa: E402
    Outcomes,
    make_extract_batch_handler,
)
from tools.articles import generate  # noqa: E402

TOPIC = "articles.raw"
_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def records(count: int, partitions: int) -> list[tuple[RawArticle, Record]]:
    """The synthetic articles as the consumer gets them: decoded, with their records."""
    fetched: list[tuple[RawArticle, Record]] = []
    for n, synthetic in enumerate(generate(count, run="cpu")):
        raw = RawArticle(
            article_id=f"cpu-{n}",
            url=synthetic.url,
            title=synthetic.title,
            body=synthetic.body,
            published_at=date.fromisoformat(synthetic.published_at),
            source="synthetic",
            received_at=datetime.now(UTC),
        )
        value = encode(raw)
        record = Record(TOPIC, n % partitions, n // partitions, raw.article_id.encode(), value)
        fetched.append((decode(RawArticle, value), record))
    return fetched


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    workers = [ExtractionProcess() for _ in range(args.workers)]
    for worker in workers:
        await worker.start()
    while not all([await worker.ready() for worker in workers]):
        await asyncio.sleep(0.05)
    broker = InMemoryBroker()
    handler = make_extract_batch_handler(
        InMemoryPublisher(broker), "alliances.extracted", extractors=workers, outcomes=Outcomes()
    )
    fetched = records(args.articles, args.partitions)
    await handler(fetched[: args.batch])  # warm: first spans, first encodes
    runs: list[dict[str, float]] = []
    try:
        for _ in range(args.repeat):
            pids = [w.worker_pid for w in workers]
            worker0 = sum(process_cpu(p) for p in pids if p is not None)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for start in range(0, len(fetched), args.batch):
                await handler(fetched[start : start + args.batch])
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            worker = sum(process_cpu(p) for p in pids if p is not None) - worker0
            runs.append(
                {
                    "service_ms_per_article": round(1000 * cpu / len(fetched), 3),
                    "worker_ms_per_article": round(1000 * worker / len(fetched), 3),
                    "total_ms_per_article": round(1000 * (cpu + worker) / len(fetched), 3),
                    "articles_per_second": round(len(fetched) / wall, 1),
                }
            )
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
    best = min(runs, key=lambda r: r["total_ms_per_article"])
    return {"articles": len(fetched), "best": best, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="articles a fetch")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures = asyncio.run(bench(args))
    figures = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch": args.batch,
        "partitions": args.partitions,
        "workers": args.workers,
        **figures,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
