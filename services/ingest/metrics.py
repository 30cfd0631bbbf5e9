"""Ingest's own Prometheus metrics (the Kafka and HTTP ones come from services.common)."""

from prometheus_client import Counter

#: What became of each pushed article, alone or in a batch: accepted, duplicate, too_large,
#: unavailable, and rejected (a batch item that is no valid article; a lone push refused
#: by validation is the 422 of http_requests_total).
ARTICLES = Counter("ingest_articles_total", "Articles pushed by crawlers, by outcome.", ["outcome"])
