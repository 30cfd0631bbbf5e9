from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings, request_bytes_field
from services.common.strength import require_strong


class RegistrySettings(ServiceSettings):
    #: The HTTP port (the query API, the exports and the dashboard at /).
    port: int = Field(8002, validation_alias="REGISTRY_PORT")
    #: The registry's database (SQLite or PostgreSQL, as an SQLAlchemy URL).
    database_url: str = Field(
        "sqlite:///.run/registry.db", validation_alias="REGISTRY_DATABASE_URL"
    )
    #: The Kafka consumer group of alliances.extracted.
    group_id: str = Field("registry", validation_alias="REGISTRY_GROUP_ID")
    max_request_bytes: int = request_bytes_field("REGISTRY_MAX_REQUEST_BYTES")
    #: Bearer token for the operator endpoints (the rename table). The registry's own
    #: secret, not notify's. Required in production; elsewhere, when unset, the operator
    #: endpoints answer 503 and the rest of the service runs.
    operator_token: str = Field("", validation_alias="REGISTRY_OPERATOR_TOKEN")
    #: How often the outbox relay looks for changes to publish to alliances.changes,
    #: and how many it publishes at a time (REGISTRY_OUTBOX_BATCH).
    outbox_poll_seconds: float = Field(1.0, gt=0, validation_alias="REGISTRY_OUTBOX_POLL_SECONDS")
    outbox_batch: int = Field(200, ge=1, le=10_000, validation_alias="REGISTRY_OUTBOX_BATCH")

    @model_validator(mode="after")
    def _refuse_weak_operator_token(self) -> RegistrySettings:
        token = self.operator_token.strip()
        if self.environment == "production":
            if not token:
                raise ValueError("REGISTRY_OPERATOR_TOKEN is empty: set the operator's token")
            require_strong("REGISTRY_OPERATOR_TOKEN", [token])
        return self
