"""Settings every service shares; each service's ``config.py`` extends them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.kafka.loop import DlqLimit, RetryPolicy
from services.common.tracing import traces_endpoint

#: Largest request body a service takes by default, in bytes (ingest's article routes
#: have their own, larger limits).
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024

#: Longer article bodies are not news articles (a dump, a crawler fault) and would stall
#: extraction: ingest refuses them and extract dead-letters any that reach it.
DEFAULT_MAX_ARTICLE_CHARS = 1_000_000


def request_bytes_field(env: str) -> Any:
    """The ``max_request_bytes`` field of a service, read from its own variable ``env``."""
    return Field(
        DEFAULT_MAX_REQUEST_BYTES,
        gt=0,
        validation_alias=env,
        description="The largest request body, in bytes, of a route with no limit of its own.",
    )


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's error must not print the secrets it was
    # given (pydantic shows the input values otherwise).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    #: production refuses weak secrets (short, default, repeated or low-entropy tokens).
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("APP_ENV", "ENVIRONMENT")
    )
    #: The Kafka broker(s), comma-separated host:port.
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    #: Prepended to every topic name; lets tests and tenants share one broker.
    topic_prefix: str = Field("", validation_alias="TOPIC_PREFIX")
    #: The address the HTTP server listens on.
    host: str = Field("127.0.0.1", validation_alias="BIND_HOST")
    #: DEBUG, INFO, WARNING or ERROR.
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    #: Each service reads it from its own ``<SERVICE>_MAX_REQUEST_BYTES``.
    max_request_bytes: int = Field(DEFAULT_MAX_REQUEST_BYTES, gt=0)
    #: An OTLP/HTTP collector (e.g. ``http://127.0.0.1:4318``): spans are exported to its
    #: ``/v1/traces`` when set, and tracing is off when neither this nor the next is.
    otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    #: The full URL spans are posted to, when it is not ``<endpoint>/v1/traces``.
    otlp_traces_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

    #: A consuming service backs off from a retryable failure (its database or the broker
    #: away) starting at this many seconds, doubling each time; it retries for as long as
    #: it takes, never dead-letters such a message, and is not ready meanwhile.
    kafka_retry_backoff_seconds: float = Field(
        0.2, gt=0, validation_alias="KAFKA_RETRY_BACKOFF_SECONDS"
    )
    #: The longest wait between two retries of one message, in seconds.
    kafka_retry_max_backoff_seconds: float = Field(
        30.0, gt=0, validation_alias="KAFKA_RETRY_MAX_BACKOFF_SECONDS"
    )
    #: Attempts at a message whose handler fails with an unexpected error (a bug) before
    #: it is dead-lettered with dlq.reason=error.
    kafka_error_attempts: int = Field(6, ge=1, validation_alias="KAFKA_ERROR_ATTEMPTS")
    #: A consumer dead-letters at most this many of the last KAFKA_DLQ_LIMIT_WINDOW
    #: messages; the one that would pass it stops the consumer (not ready, metric
    #: kafka_consumer_halted) until the service is restarted. 0: stop at the first.
    kafka_dlq_limit: int = Field(50, ge=0, validation_alias="KAFKA_DLQ_LIMIT")
    #: The number of most recent messages KAFKA_DLQ_LIMIT counts dead letters among.
    kafka_dlq_limit_window: int = Field(200, ge=1, validation_alias="KAFKA_DLQ_LIMIT_WINDOW")

    @property
    def traces_endpoint(self) -> str:
        """Where spans go ("" when tracing is off)."""
        return traces_endpoint(self.otlp_endpoint, self.otlp_traces_endpoint)

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def retry_policy(self) -> RetryPolicy:
        """How a consumer retries, from the KAFKA_RETRY_* and KAFKA_ERROR_ATTEMPTS settings."""
        return RetryPolicy(
            initial_backoff_seconds=self.kafka_retry_backoff_seconds,
            max_backoff_seconds=self.kafka_retry_max_backoff_seconds,
            error_attempts=self.kafka_error_attempts,
        )

    def dlq_limit(self) -> DlqLimit:
        """How many dead letters a consumer may send, from the KAFKA_DLQ_LIMIT* settings."""
        return DlqLimit(max_dead_letters=self.kafka_dlq_limit, window=self.kafka_dlq_limit_window)

    def body_limit(self, path: str) -> int:
        """The largest request body, in bytes, a request to ``path`` may carry."""
        return self.max_request_bytes


class ArticleSettings(ServiceSettings):
    """What ingest and extract agree on about an article: one setting, one meaning."""

    #: Longer article bodies are refused by ingest (413) and dead-lettered unread by extract.
    max_article_chars: int = Field(
        DEFAULT_MAX_ARTICLE_CHARS, gt=0, validation_alias="EXTRACT_MAX_ARTICLE_CHARS"
    )
