"""Score the extractor on the real, labelled articles in ``../shared/eval``.

    python -m tools.extract_eval                 # every tuning set, then all of them together
    python -m tools.extract_eval --sets dev2 -v  # one set, every missed / spurious pair
    python -m tools.extract_eval --sealed        # the sealed third of the corpus (end of a round)
    python -m tools.extract_eval --gold reviews.jsonl --texts DIR   # analysts' reviewed articles

``--gold`` scores any file in the gold format, such as the registry's export of the
articles analysts reviewed (``GET /v1/reviews/export.jsonl``), each article's text read
from ``DIR/<file>`` or ``DIR/<file>.txt``.

The corpus is split once, by a hash of each file name (:func:`is_sealed`): a third of it is
sealed and is scored only with ``--sealed``, at the end of a round of work, never while
tuning rules or training the models. Everything else (seeds, dev, dev2, the rest of the
corpus) is the tuning set. Scoring uses the shared scorer itself (``score.py``), on rows
made exactly as the extraction CLI makes them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SETS = ("seeds", "dev", "dev2", "corpus")
#: salt of the sealed split; changing it would unseal articles already looked at
_SEAL_SALT = "alliance-watch sealed:"


SETTINGS_HELP = """settings (read from the environment; the default after '='):
  AW_SHARED=../shared
      the shared folder beside the checkout, whose eval/ holds the labelled articles"""


def shared_dir() -> Path:
    return Path(os.environ.get("AW_SHARED", REPO.parent / "shared")).resolve()


def is_sealed(file_name: str) -> bool:
    """Whether a corpus article belongs to the sealed third (fixed by its name alone)."""
    digest = hashlib.sha256((_SEAL_SALT + file_name).encode()).hexdigest()
    return int(digest, 16) % 3 == 0


@dataclass(frozen=True)
class Article:
    set_name: str
    path: Path
    gold: dict[str, Any]

    @property
    def file(self) -> str:
        return str(self.gold["file"])

    @property
    def published(self) -> str | None:
        value = self.gold.get("published")
        return str(value) if value else None


def load_set(set_name: str, part: str = "tuning") -> list[Article]:
    """Articles of one set; ``part`` is "tuning", "sealed" or "all" (matters for the corpus)."""
    root = shared_dir()
    gold_path = root / "eval" / f"{set_name}.gold.jsonl"
    folder = root / "seeds" if set_name == "seeds" else root / "eval" / set_name
    if not gold_path.is_file():
        raise FileNotFoundError(f"no gold labels at {gold_path} (set AW_SHARED to ../shared)")
    out: list[Article] = []
    for line in gold_path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        sealed = set_name == "corpus" and is_sealed(row["file"])
        if part == "tuning" and sealed or part == "sealed" and not sealed:
            continue
        out.append(Article(set_name, folder / row["file"], row))
    return out


def load_gold(gold_path: Path, texts: Path) -> list[Article]:
    """The articles of a gold file whose texts are in ``texts`` (as ``<file>`` or
    ``<file>.txt``); FileNotFoundError naming every article whose text is missing."""
    if not gold_path.is_file():
        raise FileNotFoundError(f"no gold file at {gold_path}")
    out: list[Article] = []
    missing: list[str] = []
    for line in gold_path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        name = str(row["file"])
        found = next((p for p in (texts / name, texts / f"{name}.txt") if p.is_file()), None)
        if found is None:
            missing.append(name)
            continue
        out.append(Article(gold_path.stem, found, row))
    if missing:
        raise FileNotFoundError(
            f"no text in {texts} (as <file> or <file>.txt) for: {', '.join(missing)}"
        )
    return out


def scorer() -> ModuleType:
    path = shared_dir() / "eval" / "score.py"
    spec = importlib.util.spec_from_file_location("aw_shared_score", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no scorer at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def predict(articles: list[Article]) -> list[dict[str, Any]]:
    import datetime as dt

    from services.extract.entrypoints.cli import result_row

    rows = []
    for a in articles:
        published = dt.date.fromisoformat(a.published) if a.published else None
        row = result_row(str(a.path), published)
        row["file"] = a.file  # the gold's name for it, whatever the text file is called
        rows.append(row)
    return rows


def _line(name: str, result: dict[str, Any], seconds: float | None = None) -> str:
    rel, pairs, inst = result["relevance"], result["pairs"], result["institutions"]
    attrs = result["attributes"]
    took = f" {seconds:5.1f}s" if seconds is not None else ""
    return (
        f"{name:14s} n={result['articles']:3d}  relevance F1 {rel['f1']:.3f}  "
        f"pairs F1 {pairs['f1']:.3f} (P {pairs['precision']:.2f} R {pairs['recall']:.2f}, "
        f"{pairs['tp']}/{pairs['predicted']}/{pairs['gold']})  institutions F1 "
        f"{inst['f1']:.3f}  type {attrs['type']}  date {attrs['date']}  "
        f"specialty {attrs['specialty']}{took}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.extract_eval",
        description=__doc__,
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ",".join(SETS))
    p.add_argument("--sealed", action="store_true", help="score the sealed third of the corpus")
    p.add_argument("-v", "--verbose", action="store_true", help="list every error")
    p.add_argument("--json", action="store_true", help="one JSON object with every score")
    p.add_argument("--gold", type=Path, help="score this gold file (e.g. the reviews export)")
    p.add_argument("--texts", type=Path, help="with --gold: the folder of the articles' texts")
    args = p.parse_args(argv)
    if (args.gold is None) != (args.texts is None):
        p.error("--gold and --texts go together")
    score = scorer()
    if args.gold is not None:
        return _score_gold(score, args.gold, args.texts, args.verbose, args.json)
    names = ["corpus"] if args.sealed else [s.strip() for s in args.sets.split(",") if s.strip()]
    part = "sealed" if args.sealed else "tuning"
    everything_gold: list[dict[str, Any]] = []
    everything_pred: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    for name in names:
        if name not in SETS:
            p.error(f"unknown set {name!r}")
        articles = load_set(name, part)
        started = time.perf_counter()
        preds = predict(articles)
        took = time.perf_counter() - started
        golds = [a.gold for a in articles]
        result, errors = score.score(golds, preds)
        report[name] = result
        label = "corpus-sealed" if args.sealed else name
        if not args.json:
            print(_line(label, result, took))
            if args.verbose:
                for e in errors:
                    print("   ", *e)
        # file names repeat across sets (001.txt): keep them apart when pooling
        everything_gold += [dict(g, file=f"{name}/{g['file']}") for g in golds]
        everything_pred += [dict(r, file=f"{name}/{r['file']}") for r in preds]
    if len(names) > 1:
        result, _ = score.score(everything_gold, everything_pred)
        report["all"] = result
        if not args.json:
            print(_line("all", result))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0


def _score_gold(score: ModuleType, gold: Path, texts: Path, verbose: bool, as_json: bool) -> int:
    try:
        articles = load_gold(gold, texts)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    preds = predict(articles)
    result, errors = score.score([a.gold for a in articles], preds)
    if as_json:
        print(json.dumps({gold.stem: result}, ensure_ascii=False))
        return 0
    print(_line(gold.stem[:14], result, time.perf_counter() - started))
    if verbose:
        for e in errors:
            print("   ", *e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
