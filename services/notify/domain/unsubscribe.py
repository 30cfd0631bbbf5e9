"""One-click unsubscribe links: a token that names a subscription, signed with HMAC-SHA256
under ``NOTIFY_UNSUBSCRIBE_SECRET``. Whoever holds the link (the recipients of the e-mail)
may pause that subscription, and nothing else; a token cannot be forged or altered."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

_VERSION = "u1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class BadToken(ValueError):
    """The token is malformed, or its signature does not match."""


def _mac(secret: str, subscription_id: str) -> str:
    raw = hmac.new(
        secret.encode(), f"unsubscribe:{subscription_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign(secret: str, subscription_id: str) -> str:
    if not _ID.match(subscription_id):
        raise ValueError(f"not a subscription id: {subscription_id!r}")
    return f"{_VERSION}.{subscription_id}.{_mac(secret, subscription_id)}"


def verify(secret: str, token: str) -> str:
    """The subscription id the token names; raises BadToken with the reason."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise BadToken("the token is malformed (expected three parts)")
    version, subscription_id, mac = parts
    if version != _VERSION:
        raise BadToken(f"unknown token version {version[:10]!r}")
    if not _ID.match(subscription_id):
        raise BadToken("the token names no subscription")
    try:
        base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("the token's signature is not base64") from exc
    if not hmac.compare_digest(mac.encode(), _mac(secret, subscription_id).encode()):
        raise BadToken("the token's signature does not match (altered, or another secret)")
    return subscription_id
