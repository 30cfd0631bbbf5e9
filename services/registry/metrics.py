"""What the registry counts, for Prometheus."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EXTRACTIONS = Counter(
    "registry_extractions_total",
    "Extractions taken in, by outcome (applied, unchanged, stale).",
    ["outcome"],
)
CHANGES = Counter("registry_alliance_changes_total", "Alliance changes committed.", ["kind"])
OUTBOX_PUBLISHED = Counter("registry_outbox_published_total", "Changes relayed to Kafka.")
OUTBOX_PENDING = Gauge("registry_outbox_pending", "Changes committed but not yet relayed.")
REVIEW_ACTIONS = Counter(
    "registry_review_actions_total",
    "Analysts' review actions done (confirm, correct, reject, merge, split).",
    ["action"],
)
