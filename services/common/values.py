"""Value conversions the services' storage shares: times as aware UTC, JSON in one
canonical spelling (so equal values store, and hash, equal)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any


def utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which are UTC by construction."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def token_digest(token: str) -> str:
    """What is stored of a random secret (an API key, an analyst key, a session token):
    its SHA-256, in hex. The secret carries 256 random bits, so a fast hash cannot be
    brute-forced and no slow KDF is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
