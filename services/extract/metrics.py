"""What extract counts, for Prometheus."""

from __future__ import annotations

from prometheus_client import Counter

ARTICLES_EXTRACTED = Counter(
    "extract_articles_total", "Articles extracted, by relevance.", ["relevant"]
)
ARTICLES_TRUNCATED = Counter(
    "extract_articles_truncated_total",
    "Articles with more events than extraction keeps (the most confident were kept).",
)
EVENTS_EXTRACTED = Counter("extract_events_total", "Alliance events extracted, by type.", ["type"])
