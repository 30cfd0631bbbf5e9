"""Benchmark of the extraction core against a plain ``jieba.lcut`` pass over the same texts.

Articles of 3-6k characters are built from the project's own labelled cases
(``tests/data/extract/articles``) and, when ``../shared`` is present, the shared seed and dev
articles: each source article is followed by paragraphs of the others until it reaches
3,000 characters (capped at 6,000), like a news page that carries a second story. The HTML
variant wraps the same text in a page with navigation, a "相关新闻" list and a footer.

Reports articles per second and per-article latency p50 / p99 for ``extract()`` and for
``jieba.lcut`` on the same inputs, plain text and HTML, in one run. Writes
``bench/results/extract.json`` and ``bench/results/extract.md``. Bounded: each measurement
stops after ``--seconds`` (default 6) or ``--rounds`` passes, whichever comes first.

    python bench/extract_bench.py [--seconds 6] [--rounds 20]
"""

from __future__ import annotations

import argparse
import html
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.extract.extraction import EXTRACTOR_VERSION, ArticleInput, extract  # noqa: E402

SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results"
MIN_CHARS, MAX_CHARS = 3000, 6000


def _sources() -> list[str]:
    paths = sorted((REPO / "tests" / "data" / "extract" / "articles").glob("*"))
    if SHARED.is_dir():
        paths += sorted((SHARED / "seeds").glob("*.txt"))
        paths += sorted((SHARED / "eval" / "dev").glob("*.txt"))
    texts = []
    for p in paths:
        raw = p.read_text(encoding="utf-8")
        if p.suffix in (".html", ".htm"):
            from services.extract.extraction.text import html_to_text

            raw = html_to_text(raw)
        texts.append(raw.strip())
    return [t for t in texts if t]


def build_articles() -> list[str]:
    sources = _sources()
    paragraphs = [p for t in sources for p in t.split("\n") if len(p.strip()) >= 40]
    articles = []
    for i, text in enumerate(sources):
        body = text
        j = i * 7
        target = MIN_CHARS + (i * 613) % (MAX_CHARS - MIN_CHARS)  # spread over 3-6k
        while len(body) < target and paragraphs:
            body += "\n" + paragraphs[j % len(paragraphs)]
            j += 1
        articles.append(body[:MAX_CHARS])
    return articles


def to_html(text: str, n: int) -> str:
    lines = text.split("\n")
    title, rest = lines[0], lines[1:]
    paras = "\n".join(f"<p>{html.escape(line)}</p>" for line in rest if line.strip())
    nav = " ".join(f'<a href="/c/{k}">栏目{k}</a>' for k in range(12))
    related = "".join(f'<li><a href="/n/{n}-{k}">相关报道第{k}条标题</a></li>' for k in range(8))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}_健康网</title>"
        "<script>var a=1;function f(){return a}</script><style>p{margin:0}</style></head><body>"
        f"<div class='nav'>{nav}</div><div class='crumb'>当前位置:首页 &gt; 新闻</div>"
        f"<div class='article'><h1>{html.escape(title)}</h1>"
        "<div class='meta'>发布时间:2023-06-01 来源:健康网</div>"
        f"{paras}</div><div class='related'><h3>相关新闻</h3><ul>{related}</ul></div>"
        "<div class='footer'>版权所有 某ICP备12345678号</div></body></html>"
    )


def measure(fn: Callable[[str], Any], inputs: list[str], seconds: float,
            rounds: int) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for item in inputs:
            t0 = time.perf_counter()
            fn(item)
            latencies.append(time.perf_counter() - t0)
        if time.perf_counter() - started > seconds:
            break
    total = sum(latencies)
    latencies.sort()
    p99_index = min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))
    return {
        "articles": len(latencies),
        "articles_per_s": round(len(latencies) / total, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[p99_index] * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time budget per measurement")
    parser.add_argument("--rounds", type=int, default=20, help="max passes over the articles")
    args = parser.parse_args(argv)

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    texts = build_articles()
    pages = [to_html(t, i) for i, t in enumerate(texts)]
    # warm up: dictionaries and regexes load once
    extract(ArticleInput(body=texts[0]))
    extract(ArticleInput(body=pages[0], content_type="text/html"))

    def run_text(t: str) -> None:
        extract(ArticleInput(body=t))

    def run_html(t: str) -> None:
        extract(ArticleInput(body=t, content_type="text/html"))

    rows = {
        "extract_text": measure(run_text, texts, args.seconds, args.rounds),
        "jieba_text": measure(jieba.lcut, texts, args.seconds, args.rounds),
        "extract_html": measure(run_html, pages, args.seconds, args.rounds),
        "jieba_html": measure(jieba.lcut, pages, args.seconds, args.rounds),
    }
    lengths = [len(t) for t in texts]
    html_lengths = [len(p) for p in pages]
    report: dict[str, Any] = {
        "extractor_version": EXTRACTOR_VERSION,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "corpus": {
            "articles": len(texts),
            "text_chars_min": min(lengths), "text_chars_max": max(lengths),
            "text_chars_mean": round(statistics.mean(lengths)),
            "html_chars_mean": round(statistics.mean(html_lengths)),
        },
        "results": rows,
        "speedup_vs_jieba": {
            "text": round(rows["extract_text"]["articles_per_s"] / rows["jieba_text"]["articles_per_s"], 2),
            "html": round(rows["extract_html"]["articles_per_s"] / rows["jieba_html"]["articles_per_s"], 2),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "extract.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
    lines = [
        "# Extraction benchmark",
        "",
        f"extractor {EXTRACTOR_VERSION}, Python {report['python']}, {len(texts)} articles of "
        f"{min(lengths)}-{max(lengths)} characters (HTML pages ~{report['corpus']['html_chars_mean']}"
        " characters). Command: `python bench/extract_bench.py`.",
        "",
        "| input | what | articles/s | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, label in (("extract_text", ("plain text", "extract()")),
                       ("jieba_text", ("plain text", "jieba.lcut")),
                       ("extract_html", ("HTML", "extract()")),
                       ("jieba_html", ("HTML", "jieba.lcut"))):
        r = rows[key]
        lines.append(f"| {label[0]} | {label[1]} | {r['articles_per_s']} | {r['p50_ms']} | {r['p99_ms']} |")
    lines += ["", f"extract() vs jieba.lcut: x{report['speedup_vs_jieba']['text']} on plain text, "
              f"x{report['speedup_vs_jieba']['html']} on HTML.", ""]
    (RESULTS / "extract.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines[4:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
