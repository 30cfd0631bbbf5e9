"""Registry fixtures: a migrated repository on each database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.service import RegistryService


@pytest.fixture
def repository(database_url: str) -> Iterator[RegistryService]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield RegistryService(engine)
    finally:
        engine.dispose()
