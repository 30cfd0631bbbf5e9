"""Kafka metrics shared by every service (one process each, so the default registry)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "kafka_messages_consumed_total", "Messages fetched from a topic.", ["topic"]
)
MESSAGES_PRODUCED = Counter(
    "kafka_messages_produced_total", "Messages acknowledged by the broker.", ["topic"]
)
MESSAGES_FAILED = Counter(
    "kafka_messages_failed_total",
    "Handler attempts that failed, by failure kind (retryable, poison, invalid).",
    ["topic", "kind"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "kafka_messages_dead_lettered_total", "Messages sent to the dead-letter topic.", ["topic"]
)
PROCESSING_SECONDS = Histogram(
    "kafka_message_processing_seconds",
    "Time from fetch to the handler's success for one message.",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_messages",
    "Messages in the partition not yet consumed by this group member.",
    ["topic", "partition"],
)
HANDLER_RETRYING = Gauge(
    "kafka_handler_retrying",
    "1 while a message of the topic waits for its handler to succeed after a retryable "
    "failure (nothing after it is consumed meanwhile), else 0.",
    ["topic"],
)
CONSUMER_HALTED = Gauge(
    "kafka_consumer_halted",
    "1 once the dead-letter limit stopped this process's consumer of the topic, else 0.",
    ["topic"],
)
