"""ExtractedArticle messages built from the gold facts in ../shared/eval (read at test time).

Only facts are used (names, types, dates, the evidence sentence as the gold gives it); no
article text is stored in the repository.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common.contracts import (
    AllianceEvent,
    EventType,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
)

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared"
SEEDS_GOLD = SHARED / "eval" / "seeds.gold.jsonl"
EXTRACTED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def gold_rows() -> list[dict[str, object]]:
    if not SEEDS_GOLD.exists():
        pytest.skip(f"{SEEDS_GOLD} is absent")
    return [json.loads(line) for line in SEEDS_GOLD.read_text("utf-8").splitlines() if line]


def mention(spec: str) -> InstitutionMention:
    name, *aliases = spec.split("|")
    return InstitutionMention(name=name, aliases=tuple(aliases))


def event_of(gold: dict[str, object], **changes: object) -> AllianceEvent:
    evidence = str(gold["evidence"])
    fields: dict[str, object] = {
        "type": EventType(str(gold["type"])),
        "specialty": gold.get("specialty"),
        "lead": tuple(mention(n) for n in gold["lead"]),  # type: ignore[attr-defined]
        "members": tuple(mention(n) for n in gold["members"]),  # type: ignore[attr-defined]
        "date": gold.get("date"),
        "provinces": tuple(gold.get("provinces") or ()),  # type: ignore[arg-type]
        "cross_province": bool(gold.get("cross_province")),
        "confidence": 0.8,
        "evidence": Evidence(text=evidence, start=0, end=len(evidence)),
    }
    fields.update(changes)
    return AllianceEvent.model_validate(fields)


def seed_messages(version: str = "gold-1") -> list[ExtractedArticle]:
    """One message per seed article, keyed by a stable article id derived from its file."""
    messages = []
    for row in gold_rows():
        published = row.get("published")
        messages.append(
            ExtractedArticle(
                article_id="seed-" + str(row["file"]).split("_")[0],
                extractor_version=version,
                url=f"https://news.example.org/{row['file']}",
                title=f"seed {row['file']}",
                published_at=str(published) if published else None,  # type: ignore[arg-type]
                relevant=bool(row["is_alliance_event"]),
                events=tuple(event_of(e) for e in row["events"]),  # type: ignore[attr-defined]
                extracted_at=EXTRACTED_AT,
            )
        )
    return messages
