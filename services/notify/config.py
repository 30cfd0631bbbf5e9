from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings, request_bytes_field
from services.common.strength import check_secret
from services.notify.adapters.sealing import check_keys, split_keys
from services.notify.domain.ssrf import (
    PRIVATE_RANGES,
    IPNetwork,
    never_opened_network,
    parse_networks,
    within_private_ranges,
)


class NotifySettings(ServiceSettings):
    #: The HTTP port.
    port: int = Field(8003, validation_alias="NOTIFY_PORT")
    #: Bureaus, keys, subscriptions and deliveries (SQLite or PostgreSQL, SQLAlchemy URL).
    database_url: str = Field("sqlite:///.run/notify.db", validation_alias="NOTIFY_DATABASE_URL")
    #: Bearer token of the operator endpoints (bureaus); required.
    operator_token: str = Field("", validation_alias="NOTIFY_OPERATOR_TOKEN")
    #: Keys that seal subscription secrets at rest, comma-separated, newest first.
    secrets_key: str = Field("", validation_alias="NOTIFY_SECRETS_KEY")
    #: CIDRs that deliveries may reach despite the SSRF guard; empty by default.
    allowed_networks: str = Field("", validation_alias="NOTIFY_ALLOWED_NETWORKS")
    #: The Kafka consumer group of alliances.changes.
    group_id: str = Field("notify", validation_alias="NOTIFY_GROUP_ID")
    max_request_bytes: int = request_bytes_field("NOTIFY_MAX_REQUEST_BYTES")

    #: The delivery worker: how often it looks for due deliveries when nothing woke it.
    worker_poll_seconds: float = Field(0.5, gt=0, validation_alias="NOTIFY_WORKER_POLL_SECONDS")
    #: How many due deliveries the worker takes at a time, and sends at once
    #: (NOTIFY_WORKER_CONCURRENCY); it takes the next batch as soon as fewer of the last
    #: one's than it sends at once wait for a sender.
    worker_batch: int = Field(200, ge=1, validation_alias="NOTIFY_WORKER_BATCH")
    worker_concurrency: int = Field(16, ge=1, validation_alias="NOTIFY_WORKER_CONCURRENCY")
    #: How long one delivery attempt may take.
    send_timeout_seconds: float = Field(10.0, gt=0, validation_alias="NOTIFY_SEND_TIMEOUT_SECONDS")
    #: Retries are spread by up to this fraction of their delay.
    retry_jitter: float = Field(0.1, ge=0, le=0.5, validation_alias="NOTIFY_RETRY_JITTER")
    #: A subscription whose endpoint kept failing this long is disabled, with the reason.
    disable_after_hours: float = Field(72.0, gt=0, validation_alias="NOTIFY_DISABLE_AFTER_HOURS")
    #: The most messages a minute to one robot, below each robot channel's own budget (20 for
    #: DingTalk and WeCom, in its entry of the channel table); more are folded into a digest.
    robot_messages_per_minute: int = Field(
        20, ge=1, validation_alias="NOTIFY_ROBOT_MESSAGES_PER_MINUTE"
    )

    #: How long a bureau stays signed in to the portal (/portal/) without signing in again.
    portal_session_hours: float = Field(
        8.0, gt=0, le=24 * 30, validation_alias="NOTIFY_PORTAL_SESSION_HOURS"
    )
    #: Mark the portal's cookies Secure (sent over HTTPS only) even when notify itself is
    #: reached over plain HTTP behind a TLS-terminating proxy; requests over https always are.
    portal_secure_cookies: bool = Field(False, validation_alias="NOTIFY_PORTAL_SECURE_COOKIES")

    #: The mail server for e-mail subscriptions (none when empty), and how to log in to it.
    smtp_host: str = Field("", validation_alias="NOTIFY_SMTP_HOST")
    smtp_port: int = Field(25, validation_alias="NOTIFY_SMTP_PORT")
    smtp_username: str = Field("", validation_alias="NOTIFY_SMTP_USERNAME")
    smtp_password: str = Field("", validation_alias="NOTIFY_SMTP_PASSWORD")
    smtp_from: str = Field("alliance-watch@localhost", validation_alias="NOTIFY_SMTP_FROM")
    smtp_starttls: bool = Field(False, validation_alias="NOTIFY_SMTP_STARTTLS")
    smtp_ssl: bool = Field(False, validation_alias="NOTIFY_SMTP_SSL")

    #: Where notify is reached from outside (an http(s) URL): unsubscribe links point there.
    public_url: str = Field("http://localhost:8003", validation_alias="NOTIFY_PUBLIC_URL")
    #: Signs one-click unsubscribe links (HMAC-SHA256); required and strong in production.
    #: Outside production an empty one is derived from NOTIFY_OPERATOR_TOKEN.
    unsubscribe_secret: str = Field("", validation_alias="NOTIFY_UNSUBSCRIBE_SECRET")
    #: E-mail digests go out at this hour, Asia/Shanghai time (weekly ones on Monday).
    digest_hour: int = Field(8, ge=0, le=23, validation_alias="NOTIFY_DIGEST_HOUR")

    @model_validator(mode="after")
    def _refuse_default_operator_token(self) -> NotifySettings:
        # Always required: outside production the unsubscribe key is derived from it.
        check_secret(
            "NOTIFY_OPERATOR_TOKEN",
            [self.operator_token],
            environment=self.environment,
            required="always",
            missing="set the operator's bearer token",
        )
        return self

    @model_validator(mode="after")
    def _usable_secrets_keys(self) -> NotifySettings:
        check_keys(self.secrets_keys, production=self.environment == "production")
        return self

    @model_validator(mode="after")
    def _valid_networks(self) -> NotifySettings:
        try:
            networks = parse_networks(self.networks)
        except ValueError as exc:
            raise ValueError(f"NOTIFY_ALLOWED_NETWORKS: {exc}") from exc
        for network in networks:
            if never_opened_network(network):
                raise ValueError(
                    f"NOTIFY_ALLOWED_NETWORKS: {network} is link-local or a cloud metadata "
                    "address, which deliveries never reach; remove it"
                )
            if self.environment == "production" and not within_private_ranges(network):
                private = ", ".join(str(n) for n in PRIVATE_RANGES)
                raise ValueError(
                    f"NOTIFY_ALLOWED_NETWORKS: {network} is wider than the private ranges "
                    f"({private}); production opens only networks inside them"
                )
        return self

    @model_validator(mode="after")
    def _refuse_default_unsubscribe_secret(self) -> NotifySettings:
        check_secret(
            "NOTIFY_UNSUBSCRIBE_SECRET",
            [self.unsubscribe_secret],
            environment=self.environment,
            required="in production",
            missing="set the key that signs unsubscribe links",
        )
        return self

    @model_validator(mode="after")
    def _public_url(self) -> NotifySettings:
        base = self.public_url.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("NOTIFY_PUBLIC_URL must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username:
            raise ValueError("NOTIFY_PUBLIC_URL takes no query, fragment or user name")
        self.public_url = base
        return self

    @property
    def unsubscribe_key(self) -> str:
        """The key of unsubscribe links: the setting, or (outside production, when it is
        empty) one derived from the operator token, so a development stack needs none."""
        secret = self.unsubscribe_secret.strip()
        if secret:
            return secret
        token = self.operator_token.strip().encode()
        return hmac.new(token, b"notify unsubscribe links", hashlib.sha256).hexdigest()

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.public_url}/v1/unsubscribe?token={token}"

    @property
    def secrets_keys(self) -> list[str]:
        return split_keys(self.secrets_key)

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.allowed_networks.split(",") if n.strip())

    @property
    def allowed(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.networks)
