"""Where the CPU goes: every service sampled by py-spy while the whole system is under load.

    python bench/profile_bench.py [--articles 600] [--pushers 8] [--rate 100]

Runs the system in a temporary directory (own broker on free loopback ports, the four
services as processes, SQLite), subscribes one webhook endpoint to everything, attaches
``py-spy record`` to each service (extract's worker process included) and pushes synthetic
one-alliance articles with ``--pushers`` concurrent crawlers, then waits for every alert.
For each service it reports the CPU seconds it used, its CPU per article, and where its
samples fell: the functions that were on CPU themselves (self) and the ones whose callees
were (inclusive), as shares of its samples. Writes bench/results/profile.{json,md}.

py-spy samples from outside the process (no instrumentation), so the figures are the
services' own; it needs to be allowed to ptrace them (it is, as the same user, unless
``kernel.yama.ptrace_scope`` forbids it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.e2e_bench import cpu_seconds, processes  # noqa: E402
from tools.articles import SyntheticArticle, generate  # noqa: E402
from tools.harness import CRAWLER_TOKEN, Stack, WebhookReceiver  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SERVICES = ("ingest", "extract", "registry", "notify")
#: Leaf frames that only wait (py-spy leaves out most idle threads; these it may still
#: catch between states): the event loop's select, an idle pool thread, a pipe read.
IDLE = (
    "select (selectors.py",
    "wait (threading.py",
    "_worker (concurrent/futures/thread.py",
    "main (multiprocessing/resource_tracker.py",
    "_recv (multiprocessing/connection.py",
)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: run make setup")
    return found


def start_sampling(pid: int, output: Path, rate: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_sampling(sampler: subprocess.Popen[bytes]) -> None:
    """py-spy writes its file when interrupted, as after Ctrl-C."""
    sampler.send_signal(signal.SIGINT)
    try:
        sampler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sampler.kill()


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw format: ``frame;frame;...;leaf count`` per line, root first."""
    stacks: Counter[tuple[str, ...]] = Counter()
    if not path.exists():
        return stacks
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    """``apply (services/registry/service.py:52)`` without the line and the venv prefix."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/work/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def where_it_goes(stacks: Counter[tuple[str, ...]], top: int = 15) -> dict[str, Any]:
    busy = {s: n for s, n in stacks.items() if not any(i in s[-1] for i in IDLE)}
    total = sum(busy.values())
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in busy.items():
        own[_short(stack[-1])] += count
        for frame in {_short(f) for f in stack}:
            inclusive[frame] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "busy_samples": total,
        "self": shares(own) if total else [],
        # Inclusive shares of the project's own functions: which of its steps the time is in.
        "inclusive": shares(Counter({k: v for k, v in inclusive.items() if "(services/" in k}))
        if total
        else [],
    }


async def push_all(ingest: str, articles: list[SyntheticArticle], pushers: int, rate: float) -> int:
    accepted = 0
    queue: asyncio.Queue[SyntheticArticle] = asyncio.Queue()
    for article in articles:
        queue.put_nowait(article)
    started = time.monotonic()
    async with httpx.AsyncClient(
        timeout=30, headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"}
    ) as client:

        async def pusher(offset: int) -> None:
            nonlocal accepted
            n = offset
            while not queue.empty():
                article = queue.get_nowait()
                if rate:
                    await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                    n += pushers
                answer = await client.post(ingest + "/v1/articles", json=article.payload())
                accepted += answer.status_code == 202

        await asyncio.gather(*(pusher(i) for i in range(pushers)))
    return accepted


def wait_for_alerts(receiver: WebhookReceiver, urls: set[str], budget: float) -> int:
    deadline = time.monotonic() + budget
    seen: set[str] = set()
    while time.monotonic() < deadline and len(seen) < len(urls):
        for webhook in receiver.snapshot():
            for source in webhook.payload.get("alliance", {}).get("sources", []):
                if source.get("url") in urls:
                    seen.add(source["url"])
        time.sleep(0.5)
    return len(seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--pushers", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100, help="articles/s; 0 = as fast as can be")
    parser.add_argument("--sample-rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait for alerts")
    args = parser.parse_args()
    corpus = list(generate(args.articles, seed=5, run=f"profile{int(time.time())}"))
    urls = {a.url for a in corpus}
    with tempfile.TemporaryDirectory(prefix="aw-profile-") as workdir, WebhookReceiver() as rx:
        work = Path(workdir)
        stack = Stack(work, partitions=3)
        stack.start()
        try:
            bureau = stack.create_bureau("国家卫生健康委员会")
            rx.secrets["all"] = stack.subscribe(bureau, "all", rx.url("all"), {})["secret"]
            pids = {name: pid for name, pid in processes(stack).items() if name in SERVICES}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            samplers = {
                name: start_sampling(pid, work / f"{name}.txt", args.sample_rate)
                for name, pid in pids.items()
            }
            time.sleep(1.0)  # py-spy attaches
            started = time.monotonic()
            print(f"[profile] pushing {len(corpus)} articles ...", flush=True)
            accepted = asyncio.run(push_all(stack["ingest"].url, corpus, args.pushers, args.rate))
            arrived = wait_for_alerts(rx, urls, args.drain)
            seconds = time.monotonic() - started
            cpu = {
                name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()
            }
            for sampler in samplers.values():
                stop_sampling(sampler)
            profiles = {name: where_it_goes(read_stacks(work / f"{name}.txt")) for name in pids}
        finally:
            stack.stop()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "articles": len(corpus),
        "accepted": accepted,
        "alerts_arrived": arrived,
        "seconds": round(seconds, 1),
        "articles_per_second": round(arrived / seconds, 1) if seconds else 0.0,
        "cpu_seconds": cpu,
        "cpu_ms_per_article": {
            name: round(1000 * s / max(arrived, 1), 1) for name, s in cpu.items()
        },
        "profiles": profiles,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "profile.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    lines = [
        "# Where the CPU goes (bench/profile_bench.py)",
        "",
        f"{result['when']}, {result['machine']}: {len(corpus)} articles pushed by "
        f"{args.pushers} crawlers at {args.rate or 'max'}/s, {accepted} accepted, {arrived} "
        f"alerts in {result['seconds']} s ({result['articles_per_second']} articles/s); "
        f"py-spy at {args.sample_rate} Hz.",
        "",
        "| service | CPU s | CPU ms / article |",
        "|---|---|---|",
    ]
    for name in pids:
        lines.append(f"| {name} | {cpu[name]} | {result['cpu_ms_per_article'][name]} |")
    for name, profile in profiles.items():
        lines += ["", f"## {name} ({profile['busy_samples']} busy samples)", ""]
        lines += ["| self % | function |", "|---|---|"]
        lines += [f"| {share} | `{frame}` |" for frame, share in profile["self"]]
        lines += ["", "| inclusive % | the project's function |", "|---|---|"]
        lines += [f"| {share} | `{frame}` |" for frame, share in profile["inclusive"]]
    (RESULTS / "profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]), flush=True)
    return 0 if arrived == len(corpus) else 1


if __name__ == "__main__":
    raise SystemExit(main())
