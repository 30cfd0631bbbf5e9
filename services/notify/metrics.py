"""Notify's own Prometheus metrics (the Kafka and HTTP ones come from services.common)."""

from prometheus_client import Counter, Gauge, Histogram

CHANGES_RECEIVED = Counter(
    "notify_changes_received_total", "Alliance changes consumed, new or duplicate.", ["result"]
)
ALERTS_CREATED = Counter(
    "notify_deliveries_created_total", "Deliveries recorded (one per subscription per change)."
)
MESSAGES_SENT = Counter(
    "notify_messages_sent_total",
    "Messages sent to endpoints, by channel and outcome (delivered, retry, failed, gone).",
    ["channel", "outcome"],
)
SEND_SECONDS = Histogram(
    "notify_send_seconds",
    "Time an endpoint took to answer one message.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHANGE_TO_DELIVERY_SECONDS = Histogram(
    "notify_change_to_delivery_seconds",
    "From the registry's change to the endpoint's acknowledgement.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
SUBSCRIPTIONS_DISABLED = Counter(
    "notify_subscriptions_disabled_total", "Subscriptions disabled by failing endpoints."
)
DIGESTS_SENT = Counter(
    "notify_digests_sent_total", "Robot messages that folded several alerts into one."
)
DELIVERIES_POSTPONED = Counter(
    "notify_deliveries_postponed_total", "Deliveries held back by a robot's rate limit."
)
WORKER_UP = Gauge("notify_worker_running", "1 while the delivery worker loop runs.")
DELIVERIES_PENDING = Gauge(
    "notify_deliveries_pending",
    "Deliveries waiting for their first attempt or a retry (the retry backlog).",
)
