from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings
from services.common.strength import require_strong


class IngestSettings(ServiceSettings):
    port: int = Field(8001, validation_alias="INGEST_PORT")
    #: Comma-separated bearer tokens that crawlers present.
    api_tokens: str = Field("", validation_alias="INGEST_API_TOKENS")
    database_url: str = Field("sqlite:///.run/ingest.db", validation_alias="INGEST_DATABASE_URL")
    max_article_bytes: int = Field(2 * 1024 * 1024, validation_alias="INGEST_MAX_ARTICLE_BYTES")
    max_batch_bytes: int = Field(32 * 1024 * 1024, validation_alias="INGEST_MAX_BATCH_BYTES")
    max_batch_items: int = Field(500, validation_alias="INGEST_MAX_BATCH_ITEMS")
    send_timeout_seconds: float = Field(10.0, validation_alias="INGEST_SEND_TIMEOUT_SECONDS")

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @model_validator(mode="after")
    def _refuse_missing_or_weak_tokens(self) -> IngestSettings:
        if not self.tokens:
            raise ValueError("INGEST_API_TOKENS is empty: set at least one crawler token")
        if self.environment == "production":
            require_strong("INGEST_API_TOKENS", self.tokens)
        return self
