"""Benchmark of extraction against a plain ``jieba.lcut`` pass over the same real articles.

The texts are the real articles in ``../shared/seeds/*.txt`` and
``../shared/eval/{dev,dev2,corpus}/*.txt``, read at bench time (the repository holds no
article text). For ``extract()`` and for ``jieba.lcut`` over the same texts it reports
articles per second and per-article latency p50 / p99, and their ratio: extract's
articles/s over jieba's (issue 11 wants it at least 1; it is reported, not enforced).

The worst case is a synthetic article without punctuation: the same real texts (their
boilerplate removed by the normaliser first, so that the rules see all of it) with
punctuation, spaces and line ends stripped, concatenated and repeated to 2,000,000 bytes of
UTF-8 (and, to show how time grows, its first 16 kB and 64 kB). Each is extracted once,
in the service's worker process, which is killed when it overruns ``--worst-seconds``
(default 60): the result then reads "over 60 s".

Writes ``bench/results/extract.json`` and ``bench/results/extract.md``. Bounded: each speed
measurement stops after ``--seconds`` (default 6) or ``--rounds`` passes, whichever comes
first; the worst cases after ``--worst-seconds`` each.

    python bench/extract_bench.py [--seconds 6] [--rounds 20] [--worst-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.benchstats import percentile  # noqa: E402
from services.extract.adapters.isolation import (  # noqa: E402
    ArticleOverBudget,
    ExtractFn,
    ExtractionProcess,
)
from services.extract.extraction import EXTRACTOR_VERSION, ArticleInput, extract  # noqa: E402

SHARED = REPO.parent / "shared"
REAL_ARTICLES = ("seeds", "eval/dev", "eval/dev2", "eval/corpus")
RESULTS = REPO / "bench" / "results"
#: Sizes of the article without punctuation, in bytes of UTF-8: growth, then the worst case.
WORST_CASE_BYTES = (16_000, 64_000, 2_000_000)


def real_texts(shared: Path = SHARED) -> list[str]:
    """The real articles, in a stable order; empty when ``shared`` is absent."""
    paths = [p for d in REAL_ARTICLES for p in sorted((shared / d).glob("*.txt"))]
    texts = [p.read_text(encoding="utf-8").strip() for p in paths]
    return [t for t in texts if t]


def without_punctuation(texts: list[str], size_bytes: int) -> str:
    """The texts with punctuation (Unicode P*), spaces (Z*) and control characters (line
    ends) stripped, concatenated and repeated until ``size_bytes`` bytes of UTF-8: one
    endless clause, the shape that makes clause-based extraction slowest."""
    kept = "".join(
        ch for t in texts for ch in t if unicodedata.category(ch)[0] not in ("P", "Z", "C")
    )
    if not kept:
        raise ValueError("the texts have nothing but punctuation and spaces")
    repeated = kept * (size_bytes // len(kept.encode("utf-8")) + 1)
    return repeated.encode("utf-8")[:size_bytes].decode("utf-8", errors="ignore")


def measure(
    fn: Callable[[str], Any], inputs: list[str], seconds: float, rounds: int
) -> dict[str, float]:
    """Run ``fn`` over ``inputs`` up to ``rounds`` times, stopping after ``seconds``."""
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for item in inputs:
            t0 = time.perf_counter()
            fn(item)
            latencies.append(time.perf_counter() - t0)
        if time.perf_counter() - started > seconds:
            break
    return {
        "articles": len(latencies),
        "articles_per_s": round(len(latencies) / sum(latencies), 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
    }


async def time_once_each(
    bodies: list[str], cap_seconds: float, warm_up: str, extract_fn: ExtractFn = extract
) -> list[tuple[float | None, int | None]]:
    """Seconds to extract each body once in a worker process, and how many characters of
    it the normaliser kept for the rules; (None, None) when it overran ``cap_seconds``
    (the worker is then killed, as the service does)."""
    extraction = ExtractionProcess(extract_fn, budget_seconds=cap_seconds)
    await extraction.start()
    timings: list[tuple[float | None, int | None]] = []
    try:
        await extraction.extract(ArticleInput(body=warm_up))  # start-up is not timed
        for body in bodies:
            started = time.perf_counter()
            try:
                result = await extraction.extract(ArticleInput(body=body))
            except ArticleOverBudget:
                timings.append((None, None))
                continue
            timings.append((round(time.perf_counter() - started, 3), len(result.text)))
    finally:
        await extraction.stop()
    return timings


def worst_case(texts: list[str], cap_seconds: float) -> list[dict[str, Any]]:
    # the articles' own text, their page furniture (spam words, footers) left out first: a line
    # of it without punctuation would be dropped by the normaliser and time nothing but that
    from services.extract.extraction.text import normalise, spam_words

    clean = [line for t in texts for line in normalise(t).text.split("\n") if not spam_words(line)]
    bodies = [without_punctuation(clean, size) for size in WORST_CASE_BYTES]
    timings = asyncio.run(time_once_each(bodies, cap_seconds, warm_up=texts[0]))
    return [
        {
            "bytes": size,
            "chars": len(body),
            "seconds": seconds,
            "kept_chars": kept,
            "cap_seconds": cap_seconds,
        }
        for size, body, (seconds, kept) in zip(WORST_CASE_BYTES, bodies, timings, strict=True)
    ]


def shown(row: dict[str, Any]) -> str:
    return f"{row['seconds']} s" if row["seconds"] is not None else f"over {row['cap_seconds']:g} s"


def markdown(report: dict[str, Any]) -> list[str]:
    corpus, rows = report["corpus"], report["results"]
    lines = [
        "# Extraction benchmark",
        "",
        f"extractor {report['extractor_version']}, Python {report['python']}, "
        f"{corpus['articles']} real articles ({', '.join(REAL_ARTICLES)} in ../shared) of "
        f"{corpus['chars_min']}-{corpus['chars_max']} characters (mean {corpus['chars_mean']}). "
        "Command: `python bench/extract_bench.py`.",
        "",
        "| what | articles/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in (("extract", "extract()"), ("jieba", "jieba.lcut")):
        r = rows[key]
        lines.append(f"| {label} | {r['articles_per_s']} | {r['p50_ms']} | {r['p99_ms']} |")
    ratio = report["extract_vs_jieba"]
    verdict = "at least as fast as" if ratio >= 1 else "SLOWER than"
    lines += [
        "",
        f"extract() vs jieba.lcut: x{ratio} ({verdict} jieba.lcut on the same texts).",
        "",
        "Worst case, an article without punctuation (the real texts stripped of punctuation,",
        "spaces and line ends, repeated), extracted once in a worker process:",
        "",
        "| size | characters | kept by the normaliser | time |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for row in report["no_punctuation"]:
        kept = "-" if row["kept_chars"] is None else f"{row['kept_chars']:,}"
        lines.append(f"| {row['bytes']:,} bytes | {row['chars']:,} | {kept} | {shown(row)} |")
    lines += [
        "",
        "A size whose characters the normaliser did not keep never reached the extraction",
        "rules (it dropped the line as boilerplate): its time is the normaliser's alone.",
    ]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time budget per measurement")
    parser.add_argument("--rounds", type=int, default=20, help="max passes over the articles")
    parser.add_argument(
        "--worst-seconds", type=float, default=60.0, help="cap on each worst-case extraction"
    )
    args = parser.parse_args(argv)

    texts = real_texts()
    if not texts:
        print(f"extract bench: no real articles under {SHARED}; nothing measured", file=sys.stderr)
        return 0

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    extract(ArticleInput(body=texts[0]))  # dictionaries and regexes load once

    def run_extract(text: str) -> None:
        extract(ArticleInput(body=text))

    rows = {
        "extract": measure(run_extract, texts, args.seconds, args.rounds),
        "jieba": measure(jieba.lcut, texts, args.seconds, args.rounds),
    }
    lengths = [len(t) for t in texts]
    report: dict[str, Any] = {
        "extractor_version": EXTRACTOR_VERSION,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "corpus": {
            "articles": len(texts),
            "sets": list(REAL_ARTICLES),
            "chars_min": min(lengths),
            "chars_max": max(lengths),
            "chars_mean": round(statistics.mean(lengths)),
        },
        "results": rows,
        "extract_vs_jieba": round(
            rows["extract"]["articles_per_s"] / rows["jieba"]["articles_per_s"], 2
        ),
        "no_punctuation": worst_case(texts, args.worst_seconds),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "extract.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    lines = markdown(report)
    (RESULTS / "extract.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines[4:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
