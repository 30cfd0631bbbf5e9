from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import ArticleSettings, request_bytes_field


class IngestSettings(ArticleSettings):
    port: int = Field(8001, validation_alias="INGEST_PORT")
    #: Comma-separated bearer tokens that crawlers present.
    api_tokens: str = Field("", validation_alias="INGEST_API_TOKENS")
    database_url: str = Field("sqlite:///.run/ingest.db", validation_alias="INGEST_DATABASE_URL")
    #: The body of ``POST /v1/articles``, and each article of a batch, in UTF-8 JSON bytes.
    max_article_bytes: int = Field(
        2 * 1024 * 1024, gt=0, validation_alias="INGEST_MAX_ARTICLE_BYTES"
    )
    max_batch_bytes: int = Field(32 * 1024 * 1024, gt=0, validation_alias="INGEST_MAX_BATCH_BYTES")
    #: Any other route's body (ingest has none that takes one).
    max_request_bytes: int = request_bytes_field("INGEST_MAX_REQUEST_BYTES")
    max_batch_items: int = Field(500, validation_alias="INGEST_MAX_BATCH_ITEMS")
    send_timeout_seconds: float = Field(10.0, validation_alias="INGEST_SEND_TIMEOUT_SECONDS")

    def body_limit(self, path: str) -> int:
        if path == "/v1/articles/batch":
            return self.max_batch_bytes
        if path == "/v1/articles":
            return self.max_article_bytes
        return self.max_request_bytes

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @model_validator(mode="after")
    def _refuse_missing_or_weak_tokens(self) -> IngestSettings:
        if not self.tokens:
            raise ValueError("INGEST_API_TOKENS is empty: set at least one crawler token")
        if self.environment == "production" and any(len(t) < 24 for t in self.tokens):
            raise ValueError("INGEST_API_TOKENS: tokens must be at least 24 characters")
        return self
