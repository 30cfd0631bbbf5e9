"""The registry's settings refuse a missing or weak operator token in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registry.config import RegistrySettings


def make(**values: str) -> RegistrySettings:
    return RegistrySettings(**values)  # type: ignore[arg-type]


def test_production_requires_a_strong_operator_token() -> None:
    with pytest.raises(ValidationError, match="REGISTRY_OPERATOR_TOKEN is empty"):
        make(APP_ENV="production", REGISTRY_OPERATOR_TOKEN="")
    with pytest.raises(ValidationError, match="too weak for production: a default value"):
        make(APP_ENV="production", REGISTRY_OPERATOR_TOKEN="changeme")
    with pytest.raises(ValidationError, match="shorter than 24 characters"):
        make(APP_ENV="production", REGISTRY_OPERATOR_TOKEN="short-token")
    with pytest.raises(ValidationError, match="a repeated pattern"):
        make(APP_ENV="production", REGISTRY_OPERATOR_TOKEN="x" * 32)
    token = "Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA"
    good = make(APP_ENV="production", REGISTRY_OPERATOR_TOKEN=token)
    assert good.operator_token == token


def test_development_runs_without_one() -> None:
    settings = make(APP_ENV="development", REGISTRY_OPERATOR_TOKEN="")
    assert settings.port == 8002 or settings.port > 0
    assert settings.database_url
