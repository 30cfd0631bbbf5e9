"""Registry fixtures: a migrated repository on each database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.repository import RegistryRepository


@pytest.fixture
def repository(database_url: str) -> Iterator[RegistryRepository]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield RegistryRepository(engine)
    finally:
        engine.dispose()
