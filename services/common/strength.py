"""Whether a secret from the settings is strong enough for production.

A floor, not a proof: a secret that passes may still be guessable, but one that fails is
certainly weak (too short, a default or placeholder, one character repeated, a repeated
pattern, a run such as ``abcdef…``, or too few distinct characters to hold much entropy).
Messages name the setting and what is wrong, never any part of the secret.

``check_secret`` is the one rule set every service's settings apply to their secrets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Literal

MIN_LENGTH = 24
#: Bits of (Shannon) entropy the characters must carry: a random 24-character base64 or
#: hex token carries about 100 or 80.
MIN_ENTROPY_BITS = 60
MIN_DISTINCT = 8
_DEFAULTS = {"changeme", "change-me", "secret", "operator", "admin", "registry", "token"}
_PLACEHOLDER_WORDS = ("changeme", "change-me", "replace", "example", "password")


def _entropy_bits(secret: str) -> float:
    counts = Counter(secret)
    total = len(secret)
    return -sum(n * math.log2(n / total) for n in counts.values())


def _period(secret: str) -> int:
    """The length of the shortest unit the secret repeats (its length when none)."""
    for period in range(1, len(secret) // 2 + 1):
        if all(secret[i] == secret[i + period] for i in range(len(secret) - period)):
            return period
    return len(secret)


def _stepwise_share(secret: str) -> float:
    """The share of characters inside runs of three or more that step evenly by one code
    point or repeat (``aaa``, ``abc``, ``cba``). Pairs alone do not count: a random hex token
    has many ("cd", "ef", "56") and must never be refused for them."""
    codes = [ord(c) for c in secret]
    in_run = [False] * len(codes)
    for i in range(1, len(codes) - 1):
        step = codes[i] - codes[i - 1]
        if abs(step) <= 1 and codes[i + 1] - codes[i] == step:
            in_run[i - 1] = in_run[i] = in_run[i + 1] = True
    return sum(in_run) / max(1, len(codes))


def _position(secrets: Sequence[str], position: int) -> str:
    return f" (value {position} of {len(secrets)})" if len(secrets) > 1 else ""


def _copied_default(secret: str) -> str | None:
    """Why ``secret`` is a default or a placeholder, or None."""
    lowered = secret.lower()
    if lowered in _DEFAULTS:
        return "a default value"
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "a placeholder or a dictionary word"
    return None


def weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak for production, or None when it passes the floor."""
    copied = _copied_default(secret)
    if copied is not None:
        return copied
    if len(secret) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if _period(secret) <= len(secret) // 2:
        return "a repeated pattern"
    if _stepwise_share(secret) > 0.5:
        return "mostly runs or sequences of characters"
    if len(set(secret)) < MIN_DISTINCT:
        return f"fewer than {MIN_DISTINCT} distinct characters"
    if _entropy_bits(secret) < MIN_ENTROPY_BITS:
        return f"less than {MIN_ENTROPY_BITS} bits of entropy in its characters"
    return None


def require_strong(setting: str, secrets: Sequence[str]) -> None:
    """Raise ValueError naming the setting (and which of several secrets) if one is weak."""
    for position, secret in enumerate(secrets, start=1):
        reason = weakness(secret)
        if reason is not None:
            which = _position(secrets, position)
            raise ValueError(
                f"{setting}{which} is too weak for production: {reason}; generate one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )


def check_secret(
    setting: str,
    secrets: Sequence[str],
    *,
    environment: str,
    required: Literal["always", "in production"],
    missing: str,
) -> None:
    """The one rule set for a secret from the settings (a token, or a list of them).

    - None at all: refused when the service cannot run without one (``required="always"``)
      or in production, with ``"<SETTING> is empty: <missing>"``.
    - In production, every value must pass the floor of ``weakness``.
    - In every environment, a default or placeholder value is refused: it is the one that
      gets copied from a development file into production.
    """
    values = [s.strip() for s in secrets if s.strip()]
    production = environment == "production"
    if not values:
        if required == "always" or production:
            raise ValueError(f"{setting} is empty: {missing}")
        return
    if production:
        require_strong(setting, values)
        return
    for position, secret in enumerate(values, start=1):
        reason = _copied_default(secret)
        if reason is not None:
            raise ValueError(
                f"{setting}{_position(values, position)} is {reason}: set a random one"
            )
