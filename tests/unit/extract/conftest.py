"""Fixtures for the extraction tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from extract_testlib import SHARED


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED
