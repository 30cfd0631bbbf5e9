"""Fixtures of the operations tests: the running pipeline (from the end-to-end tests) and
the metrics the code exports."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import pipeline
from tests.ops.support import ExportedMetrics, exported_metrics

__all__ = ["exported", "pipeline"]


@pytest.fixture(scope="session")
def exported() -> ExportedMetrics:
    return exported_metrics()
