"""Secrets: bureau API keys, webhook signing secrets, and the signatures made with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import urllib.parse
from dataclasses import dataclass

from services.common.values import token_digest
from services.notify.domain.targets import WEBHOOK_SECRET_PREFIX

API_KEY_PREFIX = "aw"
_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class IssuedKey:
    """A new API key: ``plaintext`` is shown once, ``prefix`` and ``digest`` are kept."""

    plaintext: str
    prefix: str
    digest: str


def issue_api_key() -> IssuedKey:
    """``aw_<12-char lookup prefix>_<43-char secret>``."""
    prefix = secrets.token_hex(_PREFIX_LENGTH // 2)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedKey(plaintext, prefix, token_digest(plaintext))


def key_prefix(presented: str) -> str | None:
    """The lookup prefix of a presented key, or None when it is not shaped like one."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != _PREFIX_LENGTH:
        return None
    return parts[1]


def key_matches(presented: str, digest: str) -> bool:
    """Constant-time comparison of a presented key with a stored digest."""
    return hmac.compare_digest(token_digest(presented).encode(), digest.encode())


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(
    secret: str, message_id: str, timestamp: int, body: bytes, previous: str | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers; with ``previous`` (a rotated-out secret in its
    overlap) the signature header holds both, the new one first: ``v1,<new> v1,<old>``."""
    signatures = [webhook_signature(secret, message_id, timestamp, body)]
    if previous:
        signatures.append(webhook_signature(previous, message_id, timestamp, body))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """A DingTalk robot URL with ``timestamp`` and ``sign`` (HMAC-SHA256 of ts\\nsecret)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign}"
