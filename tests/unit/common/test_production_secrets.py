"""With APP_ENV=production every service refuses weak secrets in its settings, and the
error it stops with names the setting and the reason but repeats no part of the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from services.ingest.config import IngestSettings
from services.notify.adapters.sealing import new_key
from services.notify.config import NotifySettings
from services.registry.config import RegistrySettings

ROOT = Path(__file__).resolve().parents[3]
STRONG = "Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA"
WEAK = "aaaaaaaaaaaaaaaaaaaaaaaa"


def echoes(secret: str, text: str) -> bool:
    """Whether ``text`` holds any four consecutive characters of ``secret``."""
    return any(secret[i : i + 4] in text for i in range(len(secret) - 3))


CASES: list[tuple[type[BaseSettings], str, dict[str, str]]] = [
    (IngestSettings, "INGEST_API_TOKENS", {}),
    (RegistrySettings, "REGISTRY_OPERATOR_TOKEN", {}),
    (
        NotifySettings,
        "NOTIFY_OPERATOR_TOKEN",
        {"NOTIFY_SECRETS_KEY": new_key(), "NOTIFY_UNSUBSCRIBE_SECRET": STRONG[::-1]},
    ),
    (
        NotifySettings,
        "NOTIFY_UNSUBSCRIBE_SECRET",
        {"NOTIFY_SECRETS_KEY": new_key(), "NOTIFY_OPERATOR_TOKEN": STRONG[::-1]},
    ),
]


@pytest.mark.parametrize(("settings", "name", "others"), CASES)
def test_weak_tokens_are_refused_in_production_without_echo(
    settings: type[BaseSettings], name: str, others: dict[str, str]
) -> None:
    values = {"APP_ENV": "production", "INGEST_API_TOKENS": STRONG, **others}
    with pytest.raises(ValidationError) as caught:
        settings(_env_file=None, **{**values, name: WEAK})  # type: ignore[call-arg]
    message = str(caught.value)
    assert f"{name} is too weak for production: a repeated pattern" in message
    assert not echoes(WEAK, message) and not echoes(STRONG, message), message
    settings(_env_file=None, **{**values, name: STRONG})  # type: ignore[call-arg]
    settings(_env_file=None, **{**values, "APP_ENV": "development", name: WEAK})  # type: ignore[call-arg]


def test_one_weak_crawler_token_among_strong_ones_is_named_by_position() -> None:
    with pytest.raises(ValidationError, match=r"INGEST_API_TOKENS \(value 2 of 3\)"):
        IngestSettings(
            _env_file=None,  # type: ignore[call-arg]
            APP_ENV="production",
            INGEST_API_TOKENS=f"{STRONG},changeme-changeme-changeme,{STRONG[::-1]}",
        )


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "NOTIFY_SECRETS_KEY is empty"),
        ("Zz9~Qq8~Ww7~Ee6~Rr5~Tt4~Yy3~Uu2~Ii1~Oo0~Pp9~", "not url-safe base64"),
        ("c2hvcnQ=", "must decode to 32 bytes"),
        ("A" * 43 + "=", "too weak for production"),
        (f"{new_key()},{'A' * 43}=", "(key 2 of 2)"),
    ],
)
def test_the_secrets_key_must_be_a_usable_key(key: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotifySettings(
            _env_file=None,  # type: ignore[call-arg]
            APP_ENV="production",
            NOTIFY_OPERATOR_TOKEN=STRONG,
            NOTIFY_SECRETS_KEY=key,
        )
    message = str(caught.value)
    assert reason in message
    assert all(not echoes(k, message) for k in key.split(",") if len(k) > 8), message


def test_a_service_started_with_a_weak_token_stops_without_echoing_it(tmp_path: Path) -> None:
    """The real start-up: ``python -m services.notify`` exits on the settings error."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")},
        "PYTHONPATH": str(ROOT),
        "APP_ENV": "production",
        "NOTIFY_OPERATOR_TOKEN": WEAK,
        "NOTIFY_SECRETS_KEY": new_key(),
        "NOTIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'notify.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.notify"],
        cwd=tmp_path,  # away from a checkout's .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "NOTIFY_OPERATOR_TOKEN is too weak for production" in done.stderr
    assert not echoes(WEAK, done.stdout + done.stderr)
    assert not echoes(env["NOTIFY_SECRETS_KEY"], done.stdout + done.stderr)
