"""Subscription secrets at rest: sealed with ``NOTIFY_SECRETS_KEY``.

Webhook signing secrets and robot secrets must be readable by notify (it signs with them),
so they are encrypted, not hashed: Fernet (AES-128-CBC with HMAC-SHA256, from the
``cryptography`` package) under the keys of ``NOTIFY_SECRETS_KEY``, comma-separated and
newest first. MultiFernet seals with the first key and opens with any of them, so a new
key can be put in front while secrets sealed with the old one still open;
``python -m services.notify reseal-secrets`` then seals every stored secret with the newest
key, after which the old key can go.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: Distinct bytes a production key must have (a random 32-byte key has about 30).
MIN_DISTINCT_KEY_BYTES = 16


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens."""


def new_key() -> str:
    """A fresh random key, in the form ``NOTIFY_SECRETS_KEY`` takes."""
    return Fernet.generate_key().decode("ascii")


def split_keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def check_keys(keys: Sequence[str], *, production: bool) -> None:
    """Raise ValueError, naming a key by its position only, if one is not a usable key."""
    if not keys:
        raise ValueError(
            "NOTIFY_SECRETS_KEY is empty: set it to a key from "
            "`python -m services.notify new-secrets-key`"
        )
    for position, key in enumerate(keys, start=1):
        where = f"NOTIFY_SECRETS_KEY (key {position} of {len(keys)})"
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise ValueError(f"{where} is not url-safe base64") from exc
        if len(raw) != 32:
            raise ValueError(f"{where} must decode to 32 bytes")
        if production and len(set(raw)) < MIN_DISTINCT_KEY_BYTES:
            raise ValueError(
                f"{where} is too weak for production: too few distinct bytes; generate one "
                "with `python -m services.notify new-secrets-key`"
            )


class SecretBox:
    """Seals and opens subscription secrets with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._newest = Fernet(keys[0].encode("ascii"))
        self._all = MultiFernet([Fernet(k.encode("ascii")) for k in keys])

    def seal(self, secret: str | None) -> str | None:
        if secret is None:
            return None
        return self._all.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._all.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(
                "a stored secret opens with none of the keys in NOTIFY_SECRETS_KEY "
                "(was the key it was sealed with removed?)"
            ) from exc

    def is_current(self, sealed: str) -> bool:
        """Whether ``sealed`` is sealed with the newest key already."""
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """``sealed`` sealed again with the newest key (SecretUnreadable if none opens it)."""
        try:
            return self._all.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretUnreadable("a stored secret opens with none of the keys") from exc
