"""The production floor for secrets from the settings: weak ones are refused, and the
refusal never repeats any part of the secret."""

from __future__ import annotations

import secrets

import pytest

from services.common.strength import require_strong, weakness

WEAK = [
    ("aaaaaaaaaaaaaaaaaaaaaaaa", "repeated pattern"),
    ("abababababababababababab", "repeated pattern"),
    ("0123456789012345678901234", "repeated pattern"),
    ("abcdefghijklmnopqrstuvwxyz", "runs or sequences"),
    ("aaaaaaaabbbbbbbbccccccccdddddddd", "runs or sequences"),
    ("changeme", "default"),
    ("replace-with-a-long-random-operator-token", "placeholder"),
    ("MyPassword2024MyPassword", "placeholder"),
    ("short-but-random-Xq7", "shorter than 24"),
    ("aeiouaeiuoaueioauoieaouiea", "distinct characters"),
    ("eacaigaockmcacaccacacacc", "bits of entropy"),
]


@pytest.mark.parametrize(("secret", "reason"), WEAK)
def test_weak_secrets_are_named_weak(secret: str, reason: str) -> None:
    found = weakness(secret)
    assert found is not None and reason in found


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(24), lambda: secrets.token_hex(16)])
def test_generated_tokens_pass(make: object) -> None:
    for _ in range(200):
        assert weakness(make()) is None  # type: ignore[operator]


def test_the_refusal_names_the_setting_and_position_but_no_part_of_the_secret() -> None:
    good = secrets.token_urlsafe(24)
    weak = "aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    with pytest.raises(ValueError) as caught:
        require_strong("INGEST_API_TOKENS", [good, weak])
    message = str(caught.value)
    assert "INGEST_API_TOKENS (value 2 of 2)" in message and "repeated pattern" in message
    for secret in (good, weak):
        assert not any(secret[i : i + 4] in message for i in range(len(secret) - 3))
    require_strong("INGEST_API_TOKENS", [good])


def test_a_random_hex_token_with_many_neighbouring_pairs_passes() -> None:
    # one that the pairwise rule refused: 16 of its 31 neighbours are a code point apart
    assert weakness("cddd56701def1feccfcf4087efedcd7a") is None
