"""Which database failures the registry's consumer retries for as long as it takes, and
which it lets the loop dead-letter: a bug must not stall the consumer forever."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

from services.common.contracts import ExtractedArticle
from services.common.errors import PoisonError, RetryableError
from services.registry.entrypoints.consumer import apply_extraction

MESSAGE = ExtractedArticle(
    article_id="u1", extractor_version="1", relevant=False, extracted_at=datetime.now(UTC)
)


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def apply_extraction(self, message: ExtractedArticle, now: datetime) -> Any:
        raise self.error


def failure(kind: type[DBAPIError], invalidated: bool = False) -> DBAPIError:
    return kind("SELECT 1", {}, Exception("from the driver"), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (failure(OperationalError), RetryableError),  # database away, locked, shutting down
        (failure(InterfaceError), RetryableError),
        (failure(IntegrityError), RetryableError),  # a concurrent writer won a race
        (failure(DBAPIError, invalidated=True), RetryableError),
        (failure(DataError), PoisonError),  # this message will never fit
        (failure(ProgrammingError), ProgrammingError),  # a bug: not retried forever
    ],
)
async def test_database_failures_become_the_loops_error_kinds(
    error: Exception, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        await apply_extraction(Failing(error), MESSAGE)  # type: ignore[arg-type]
