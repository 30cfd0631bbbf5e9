"""The production floor for secrets from the settings: weak ones are refused, and the
refusal never repeats any part of the secret."""

from __future__ import annotations

import secrets

import pytest

from services.common.strength import check_secret, require_strong, weakness

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


def test_the_one_rule_set_of_every_secret_setting() -> None:
    strong = secrets.token_urlsafe(24)
    # empty: refused where required, in production always, else allowed
    with pytest.raises(ValueError, match="^X_TOKEN is empty: set one$"):
        check_secret("X_TOKEN", [" "], environment="test", required="always", missing="set one")
    with pytest.raises(ValueError, match="^X_TOKEN is empty: set one$"):
        check_secret(
            "X_TOKEN", [], environment="production", required="in production", missing="set one"
        )
    check_secret("X_TOKEN", [], environment="development", required="in production", missing="-")
    # production: the whole floor; elsewhere only defaults and placeholders
    with pytest.raises(ValueError, match="too weak for production: shorter than 24"):
        check_secret(
            "X_TOKEN", ["dev-token"], environment="production", required="always", missing="-"
        )
    check_secret(
        "X_TOKEN", ["dev-token"], environment="development", required="always", missing="-"
    )
    for copied, reason in (("changeme", "a default value"), ("replace-me-please", "a placeholder")):
        with pytest.raises(ValueError, match=f"X_TOKEN \\(value 2 of 2\\) is {reason}"):
            check_secret(
                "X_TOKEN", [strong, copied], environment="test", required="always", missing="-"
            )
    check_secret("X_TOKEN", [strong], environment="production", required="always", missing="-")
