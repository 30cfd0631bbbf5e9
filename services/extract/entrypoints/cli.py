"""Command line: ``python -m services.extract FILE... [--published YYYY-MM-DD]`` or
``python -m services.extract --manifest LIST.jsonl``; one JSON line per file, in order.
Files may be UTF-8 (with or without BOM) or GB18030/GBK/GB2312; anything else is read as
UTF-8 with a warning on stderr."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

from services.extract.adapters.decoding import decode_article
from services.extract.extraction import ArticleInput, ExtractionResult, extract


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(value)


def configure(p: argparse.ArgumentParser) -> None:
    """The CLI's arguments (also those of ``python -m services.extract files``)."""
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="article files (.html/.htm are HTML, others text)"
    )
    p.add_argument("--published", help="publication date YYYY-MM-DD for the FILE arguments")
    p.add_argument("--manifest", help='JSONL file of {"path": ..., "published": ...} lines')


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m services.extract",
        description="Extract medical-alliance events from articles.",
    )
    configure(p)
    return p


def _jobs(args: argparse.Namespace) -> list[tuple[str, dt.date | None]]:
    jobs: list[tuple[str, dt.date | None]] = []
    if args.manifest:
        with open(args.manifest, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    jobs.append((str(row["path"]), _date(row.get("published"))))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{args.manifest}:{n}: bad manifest line ({exc})") from exc
    published = _date(args.published)
    jobs.extend((f, published) for f in args.files)
    return jobs


def read_article(path: str) -> str:
    """The file's text in whichever encoding it is (see ``decoding``); a warning on stderr
    names a file that is in none of them, whose text then holds replacement characters."""
    with open(path, "rb") as fh:
        decoded = decode_article(fh.read())
    # As text mode reads files: \r\n and lone \r end lines too.
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    if decoded.lossy:
        print(
            f"warning: {path} is neither UTF-8, GB18030 (GBK) nor Big5; read as UTF-8 with its "
            "invalid bytes replaced, so its events may be missing or wrong",
            file=sys.stderr,
        )
    return text


def result_row(path: str, published: dt.date | None) -> dict[str, Any]:
    body = read_article(path)
    is_html = path.lower().endswith((".html", ".htm"))
    result = extract(
        ArticleInput(
            body=body, content_type="text/html" if is_html else "text/plain", published=published
        )
    )
    return row_of(os.path.basename(path), result)


def row_of(file_name: str, result: ExtractionResult) -> dict[str, Any]:
    """The CLI's JSON line for one article (the evaluation's prediction format)."""
    events = []
    for ev in result.events:
        events.append(
            {
                "type": ev.type.value,
                "specialty": ev.specialty,
                "lead": [m.name for m in ev.lead],
                "members": [m.name for m in ev.members],
                "date": ev.date,
                "provinces": list(ev.provinces),
                "cross_province": ev.cross_province,
                "confidence": ev.confidence,
                "evidence": ev.evidence.text,
                "cooperation": list(ev.cooperation),
            }
        )
    row: dict[str, Any] = {
        "file": file_name,
        "relevant": result.relevant,
        "events": events,
        "extractor_version": result.extractor_version,
    }
    if result.truncated:
        row["events_truncated"] = True  # more events than extraction keeps
    return row


def main(argv: list[str] | None = None) -> int:
    return run(_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Extract the files ``args`` name (see ``configure``), one JSON line each."""
    try:
        jobs = _jobs(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not jobs:
        _parser().print_usage(sys.stderr)
        return 2
    status = 0
    for path, published in jobs:
        try:
            row = result_row(path, published)
        except OSError as exc:
            print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            status = 2
            continue
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return status
