"""`make run` / `make up` write the secrets the services need into a private .env, and add
the ones an older .env lacks (NOTIFY_SECRETS_KEY came later) without touching the rest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.notify.config import NotifySettings
from tools import stack


def test_a_fresh_env_file_holds_every_secret_and_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    monkeypatch.setattr(stack, "ENV_FILE", env)
    for name in stack.GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    stack.ensure_env_file()
    values = stack._dotenv()
    assert set(stack.GENERATED_SECRETS) <= set(values)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    settings = NotifySettings(_env_file=str(env))  # type: ignore[call-arg]
    assert settings.secrets_keys == [values["NOTIFY_SECRETS_KEY"]]


def test_an_older_env_file_gets_the_missing_key_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_ENV=development\nNOTIFY_OPERATOR_TOKEN=kept-as-it-was-0123456789\n")
    monkeypatch.setattr(stack, "ENV_FILE", env)
    for name in stack.GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    stack.ensure_env_file()
    values = stack._dotenv()
    assert values["NOTIFY_OPERATOR_TOKEN"] == "kept-as-it-was-0123456789"
    assert values["NOTIFY_SECRETS_KEY"] and values["INGEST_API_TOKENS"]
    assert env.read_text().count("NOTIFY_OPERATOR_TOKEN=") == 1


def test_secrets_the_environment_sets_are_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    monkeypatch.setattr(stack, "ENV_FILE", env)
    for name in stack.GENERATED_SECRETS:
        monkeypatch.setenv(name, "set-by-the-environment-0123456789")
    stack.ensure_env_file()
    assert not env.exists()
