"""Helpers for the extraction tests (imported by the test modules)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from services.extract.extraction import ArticleInput, ExtractionResult, extract

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared"
SCORER = SHARED / "eval" / "score.py"
OWN_CASES = REPO / "tests" / "data" / "extract"


def run(
    body: str, published: str | None = "2023-06-01", *, html: bool = False, title: str = ""
) -> ExtractionResult:
    return extract(
        ArticleInput(
            body=body,
            title=title,
            content_type="text/html" if html else "text/plain",
            published=dt.date.fromisoformat(published) if published else None,
        )
    )


def pairs(result: ExtractionResult) -> set[tuple[str, str]]:
    return {
        (lead.name, member.name)
        for ev in result.events
        for lead in ev.lead
        for member in ev.members
    }


def score_set(gold: Path, article_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """Run the CLI over a gold set and score it with the shared scorer (``--json``)."""
    manifest = tmp_path / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as out:
        for line in gold.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.write(
                    json.dumps(
                        {"path": str(article_dir / row["file"]), "published": row.get("published")}
                    )
                    + "\n"
                )
    pred = tmp_path / "pred.jsonl"
    with pred.open("w", encoding="utf-8") as fh:
        subprocess.run(
            [sys.executable, "-m", "services.extract", "--manifest", str(manifest)],
            check=True,
            stdout=fh,
            cwd=REPO,
        )
    done = subprocess.run(
        [sys.executable, str(SCORER), str(gold), str(pred), "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
