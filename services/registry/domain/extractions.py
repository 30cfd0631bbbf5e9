"""Whether an extraction of an article is news to the registry: the same one again (a
replay), an older one (delivered late, or from an older extractor), or newer."""

from __future__ import annotations

import hashlib
from datetime import datetime

from services.common.contracts import ExtractedArticle
from services.common.values import canonical_json, utc


def fingerprint(message: ExtractedArticle) -> str:
    """What an extraction says, without when it was made: equal for a replayed message."""
    body = message.model_dump(mode="json", exclude={"extracted_at", "schema_version"})
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """1.10 after 1.9; non-numeric parts compare as text after numbers."""
    parts = [p for p in version.replace("-", ".").replace("+", ".").split(".") if p]
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def is_older(message: ExtractedArticle, kept_version: str, kept_extracted_at: datetime) -> bool:
    """Whether ``message`` is an earlier extraction than the one the registry keeps."""
    new, kept = version_key(message.extractor_version), version_key(kept_version)
    if new != kept:
        return new < kept
    return utc(message.extracted_at) < utc(kept_extracted_at)
