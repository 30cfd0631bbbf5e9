"""The Kafka producer ingest publishes accepted articles with (articles.raw)."""

from __future__ import annotations

from services.common.kafka.publisher import KafkaPublisher
from services.ingest.config import IngestSettings


def articles_publisher(settings: IngestSettings) -> KafkaPublisher:
    return KafkaPublisher(
        settings.kafka_bootstrap_servers,
        client_id="ingest",
        # A push waits this long for the broker's acknowledgement before it answers 503.
        send_timeout_seconds=settings.send_timeout_seconds,
        # The largest article accepted must fit one request: room for the RawArticle
        # envelope around it and for escapes that grow its JSON, never below Kafka's 1 MiB.
        max_request_bytes=max(settings.max_article_bytes * 2, 1024 * 1024),
    )
