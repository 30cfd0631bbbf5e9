"""Dashboard page load with N synthetic alliances (100k by default) in the registry.

The registry bench's generator fills a SQLite registry; the query API (build_api, no
Kafka) serves it from a child process; headless Chromium (Debian's, driven by Playwright)
opens the page and the time from navigation start until the map, the timeline and the
table are all rendered is measured, for the unfiltered page and for filtered views, plus
the /v1/views/* endpoints' own latency. Bounded in time (--budget seconds, default 600).
Writes bench/results/dashboard.json and .md.

    python bench/dashboard_bench.py [--alliances 100000] [--loads 5] [--budget 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from registry_bench import load, synthetic  # noqa: E402

from services.common.db import make_engine  # noqa: E402
from services.registry.adapters.migrate import upgrade  # noqa: E402
from tools.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tools.localkafka import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
VIEWS = {
    "all": "/",
    "province": "/?province=四川",
    "type+since": "/?type=specialty_alliance&since=2020-01-01",
    "q+sorted": "/?q=人民医院&sort=-confidence&page=3",
}
READY = (
    "() => document.body.dataset.ready === 'ready' && "
    "['ready', 'unavailable'].includes(document.body.dataset.map) && "
    "['ready', 'unavailable'].includes(document.body.dataset.timeline) && "
    "document.body.dataset.table === 'ready'"
)


def serve(database_url: str, port: int) -> None:
    """The child process: the registry's query API over an existing database."""
    import uvicorn

    from services.registry.bootstrap import build_api
    from services.registry.config import RegistrySettings
    from services.registry.service import RegistryService

    settings = RegistrySettings(REGISTRY_DATABASE_URL=database_url)
    app = build_api(settings, RegistryService(make_engine(database_url)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the registry API exited")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the registry API did not become ready")


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "max_ms": round(ordered[-1], 1),
        "min_ms": round(ordered[0], 1),
        "n": len(ordered),
    }


def measure_pages(base: str, loads: int, deadline: float) -> dict[str, Any]:
    from playwright.sync_api import ConsoleMessage, sync_playwright

    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, path in VIEWS.items():
                samples: list[float] = []
                cold_ms: float | None = None
                details: dict[str, Any] = {}
                for attempt in range(loads + 1):  # the first, cold load is reported apart
                    if time.monotonic() > deadline:
                        break
                    context = browser.new_context(viewport={"width": 1440, "height": 1000})
                    page = context.new_page()
                    errors: list[str] = []

                    def on_console(message: ConsoleMessage, errors: list[str] = errors) -> None:
                        if message.type == "error":
                            errors.append(message.text)

                    page.on("console", on_console)
                    page.goto(base + path, wait_until="commit")
                    page.wait_for_function(READY, timeout=60_000)
                    ready_ms = float(page.evaluate("window.awReadyAt"))
                    if attempt > 0:
                        samples.append(ready_ms)
                    else:
                        cold_ms = round(ready_ms, 1)
                    details = {
                        "total": page.inner_text("#total"),
                        "rows": page.locator("#rows tr").count(),
                        "map": page.evaluate("document.body.dataset.map"),
                        "console_errors": errors,
                    }
                    if attempt == loads and name == "all":
                        RESULTS.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(RESULTS / "dashboard-100k.png"), full_page=True)
                    context.close()
                if samples:
                    results[name] = {
                        "path": path,
                        "cold_ms": cold_ms,
                        **summary(samples),
                        **details,
                    }
        finally:
            browser.close()
    return results


def measure_endpoints(base: str, rounds: int = 10) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, path in (
            ("map", "/v1/views/map"),
            ("timeline", "/v1/views/timeline"),
            ("table", "/v1/views/table?sort=-date&page=1&size=25"),
            ("map, province", "/v1/views/map?province=四川"),
            ("table, q, sorted", "/v1/views/table?q=人民医院&sort=-confidence&page=3"),
            ("map, city", "/v1/views/map?city=北京安安"),
            ("table, city", "/v1/views/table?city=北京安安"),
        ):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            cold = round((time.perf_counter() - started) * 1000, 1)
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            figures[name] = {"cold_ms": cold, **summary(samples)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alliances", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=5, help="timed page loads per view")
    parser.add_argument("--budget", type=float, default=600, help="seconds for the measurements")
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if not os.path.exists(CHROMIUM):
        print(f"[dashboard-bench] {CHROMIUM} is missing: run make setup", file=sys.stderr)
        return 1
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="aw-dashbench-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        print(f"[dashboard-bench] generating {args.alliances} synthetic alliances", flush=True)
        data = synthetic(args.alliances)
        url = f"sqlite:///{workdir / 'registry.db'}"
        engine = make_engine(url)
        upgrade(engine)
        load_seconds = load(engine, data)
        engine.dispose()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", url, "--port", str(port)],
            cwd=workdir,
        )
        wait_ready(base, process)
        print("[dashboard-bench] measuring", flush=True)
        deadline = time.monotonic() + args.budget
        pages = measure_pages(base, args.loads, deadline)
        endpoints = measure_endpoints(base)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    sizes = {k: len(v) for k, v in data.items()}
    report = {
        "benchmark": "dashboard page load",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "dataset": sizes,
        "database": "sqlite",
        "load_seconds": round(load_seconds, 1),
        "page_load": pages,
        "endpoints": endpoints,
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    lines = [
        "# Dashboard page load",
        "",
        f"{sizes['alliances']} synthetic alliances, {sizes['institutions']} institutions "
        f"(the registry bench's generator) in SQLite; the registry's query API in its own "
        f"process; headless Chromium (Debian's) via Playwright, 1440x1000, a fresh browser "
        f"context per load (no HTTP cache). Time from navigation start until the map, the "
        f"timeline and the table are rendered. *Cold* is the first load of a view, before the "
        f"registry has its map and timeline aggregates for those filters in its cache; the "
        f"p50 and max are over the loads after it. {report['when']}, {os.cpu_count()} CPUs.",
        "",
        "| view | URL | cold ms | p50 ms | max ms | loads | alliances shown | table rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in pages.items():
        lines.append(
            f"| {name} | `{f['path']}` | {f['cold_ms']} | {f['p50_ms']} | {f['max_ms']} | {f['n']} | "
            f"{f['total']} | {f['rows']} |"
        )
    lines += [
        "",
        "Endpoints, as a client sees them (after the page loads above; *first* is the first "
        "call with those filters, p50 and max over 10 calls after it):",
        "",
    ]
    lines += ["| endpoint | first ms | p50 ms | max ms |", "|---|---:|---:|---:|"]
    for name, f in endpoints.items():
        lines.append(f"| {name} | {f['cold_ms']} | {f['p50_ms']} | {f['max_ms']} |")
    (RESULTS / "dashboard.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
