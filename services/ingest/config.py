from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import ArticleSettings, request_bytes_field
from services.common.strength import check_secret


class IngestSettings(ArticleSettings):
    #: The HTTP port.
    port: int = Field(8001, validation_alias="INGEST_PORT")
    #: Comma-separated bearer tokens that crawlers present.
    api_tokens: str = Field("", validation_alias="INGEST_API_TOKENS")
    #: Which articles were already accepted (SQLite or PostgreSQL, as an SQLAlchemy URL).
    database_url: str = Field("sqlite:///.run/ingest.db", validation_alias="INGEST_DATABASE_URL")
    #: The body of ``POST /v1/articles``, and each article of a batch, in UTF-8 JSON bytes.
    max_article_bytes: int = Field(
        2 * 1024 * 1024, gt=0, validation_alias="INGEST_MAX_ARTICLE_BYTES"
    )
    #: The body of POST /v1/articles/batch, in bytes.
    max_batch_bytes: int = Field(32 * 1024 * 1024, gt=0, validation_alias="INGEST_MAX_BATCH_BYTES")
    #: Any other route's body (ingest has none that takes one).
    max_request_bytes: int = request_bytes_field("INGEST_MAX_REQUEST_BYTES")
    #: The most articles one batch may hold.
    max_batch_items: int = Field(500, validation_alias="INGEST_MAX_BATCH_ITEMS")
    #: How long a push waits for Kafka to acknowledge an article before answering 503.
    send_timeout_seconds: float = Field(10.0, gt=0, validation_alias="INGEST_SEND_TIMEOUT_SECONDS")
    #: A push publishing an article holds a claim on it; one older than this was left by a
    #: process that died while publishing, and the next push of the article takes it over.
    claim_expiry_seconds: float = Field(60.0, gt=0, validation_alias="INGEST_CLAIM_EXPIRY_SECONDS")

    def body_limit(self, path: str) -> int:
        if path == "/v1/articles/batch":
            return self.max_batch_bytes
        if path == "/v1/articles":
            return self.max_article_bytes
        return self.max_request_bytes

    @property
    def claim_wait_seconds(self) -> float:
        """How long a push waits for a concurrent push of the same article: the other
        one's publishing, bounded by the send timeout, with room for its database calls."""
        return self.send_timeout_seconds * 1.5

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @model_validator(mode="after")
    def _refuse_missing_or_weak_tokens(self) -> IngestSettings:
        check_secret(
            "INGEST_API_TOKENS",
            self.tokens,
            environment=self.environment,
            required="always",
            missing="set at least one crawler token",
        )
        return self

    @model_validator(mode="after")
    def _claims_outlive_a_live_push(self) -> IngestSettings:
        # A claim taken over while its push is still publishing would let both answer new.
        if self.claim_expiry_seconds < 3 * self.send_timeout_seconds:
            raise ValueError(
                "INGEST_CLAIM_EXPIRY_SECONDS must be at least 3 times INGEST_SEND_TIMEOUT_SECONDS"
            )
        return self
