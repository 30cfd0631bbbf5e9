from __future__ import annotations

from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, model_validator

from services.common.settings import ServiceSettings, request_bytes_field
from services.common.strength import check_secret


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
    #: Where readers reach the dashboard (``http(s)://host[:port][/prefix]``): every
    #: change published to alliances.changes carries its alliance's page,
    #: ``<PUBLIC_BASE_URL>/alliances/<id>``, which alerts link to as their evidence.
    #: Unset: the registry's own address, ``http://127.0.0.1:<REGISTRY_PORT>`` (or
    #: BIND_HOST's), reachable only on this machine.
    public_base_url: str = Field(
        "", validation_alias=AliasChoices("PUBLIC_BASE_URL", "REGISTRY_PUBLIC_BASE_URL")
    )

    #: How long an analyst stays signed in to the dashboard's review pages (/review/)
    #: without signing in again; revoking the analyst's key ends the session sooner.
    analyst_session_hours: float = Field(
        8.0, gt=0, le=24 * 30, validation_alias="REGISTRY_ANALYST_SESSION_HOURS"
    )

    @model_validator(mode="after")
    def _check_public_base_url(self) -> RegistrySettings:
        base = self.public_base_url.strip()
        if not base:
            host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
            host = f"[{host}]" if ":" in host else host
            base = f"http://{host}:{self.port}"
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("PUBLIC_BASE_URL must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("PUBLIC_BASE_URL takes no query, fragment or user name")
        self.public_base_url = base.rstrip("/")
        return self

    def alliance_url(self, alliance_id: str) -> str:
        """The dashboard page of one alliance, as alerts link to it."""
        return alliance_page_url(self.public_base_url, alliance_id)

    @model_validator(mode="after")
    def _refuse_weak_operator_token(self) -> RegistrySettings:
        # Optional outside production: without it only the rename table is off.
        check_secret(
            "REGISTRY_OPERATOR_TOKEN",
            [self.operator_token],
            environment=self.environment,
            required="in production",
            missing="set the operator's token",
        )
        return self


def alliance_page_url(base_url: str, alliance_id: str) -> str:
    """``<base_url>/alliances/<alliance_id>``, the id quoted as one path segment."""
    return f"{base_url.rstrip('/')}/alliances/{quote(alliance_id, safe='')}"
