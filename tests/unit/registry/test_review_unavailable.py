"""While the registry's database is away, the analysts' routes answer 503, saying so:
neither a 401 (the key may be fine) nor a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService

TOKEN = "unavailable-test-operator-token-0123456789"


def away(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("could not connect to server"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, RegistryService, str]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(engine)
    repository = RegistryService(engine)
    _, key = repository.create_analyst("值班分析员", datetime.now(UTC))
    settings = RegistrySettings(REGISTRY_OPERATOR_TOKEN=TOKEN)  # type: ignore[call-arg]
    with TestClient(build_api(settings, repository)) as client:
        yield client, repository, key
    engine.dispose()


def test_the_key_check_answers_503(
    setup: tuple[TestClient, RegistryService, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, repository, key = setup
    monkeypatch.setattr(repository, "analyst_by_key", away)
    answer = client.get("/v1/review/queue", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 503 and "unavailable" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("review", "/v1/alliances/a1/review", {"action": "confirm"}),
        ("merge", "/v1/alliances/a1/merge", {"other_id": "a2"}),
        ("split", "/v1/alliances/a1/split", {"source_ids": ["u1"]}),
        ("create_analyst", "/v1/analysts", {"name": "新人"}),
    ],
)
def test_writes_answer_503(
    setup: tuple[TestClient, RegistryService, str],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    client, repository, key = setup
    monkeypatch.setattr(repository, method, away)
    token = TOKEN if path == "/v1/analysts" else key
    answer = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"] == "the registry database is unavailable"
