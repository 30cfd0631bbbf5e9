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


def test_public_base_url_defaults_to_the_registry_itself() -> None:
    settings = make(REGISTRY_PORT="8123")
    assert settings.public_base_url == "http://127.0.0.1:8123"
    assert settings.alliance_url("al-1") == "http://127.0.0.1:8123/alliances/al-1"
    assert make(BIND_HOST="0.0.0.0", REGISTRY_PORT="80").public_base_url == "http://127.0.0.1:80"


def test_public_base_url_is_an_http_url() -> None:
    settings = make(PUBLIC_BASE_URL="https://watch.example.cn/jk/")
    assert settings.public_base_url == "https://watch.example.cn/jk"
    assert settings.alliance_url("al/1 x") == "https://watch.example.cn/jk/alliances/al%2F1%20x"
    same = make(REGISTRY_PUBLIC_BASE_URL="http://10.0.0.5:8002")
    assert same.alliance_url("a") == "http://10.0.0.5:8002/alliances/a"
    for bad in ("watch.example.cn", "ftp://watch.example.cn", "https://", "https://h/?q=1"):
        with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
            make(PUBLIC_BASE_URL=bad)
