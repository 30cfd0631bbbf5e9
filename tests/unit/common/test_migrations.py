"""``migrate_with_retry``, the start-up migration of every service with a database: it waits
out a database that is not reachable yet, and gives up on anything else at once."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import InterfaceError, OperationalError

from services.common.migrations import migrate_with_retry


class Unreachable:
    """A migration whose database answers only after ``times`` refusals."""

    def __init__(self, times: int, error: type[Exception] = OperationalError) -> None:
        self.times, self.error, self.calls = times, error, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error("SELECT 1", {}, Exception("connection refused"))


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
async def test_a_database_still_starting_is_waited_for(error: type[Exception]) -> None:
    migrate = Unreachable(3, error)
    await migrate_with_retry(migrate, first_delay=0.001)
    assert migrate.calls == 4


async def test_it_gives_up_after_its_attempts() -> None:
    migrate = Unreachable(10)
    with pytest.raises(OperationalError):
        await migrate_with_retry(migrate, attempts=3, first_delay=0.001)
    assert migrate.calls == 3


async def test_a_failing_migration_is_not_retried() -> None:
    calls: list[int] = []

    def migrate() -> None:
        calls.append(1)
        raise RuntimeError("a migration bug")

    with pytest.raises(RuntimeError):
        await migrate_with_retry(migrate, first_delay=0.001)
    assert calls == [1]
