from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain.schedule import DEFAULT_DELAYS, RetrySchedule, parse_retry_after
from tests.clocks import FakeClock

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def test_the_schedule_without_jitter() -> None:
    schedule = RetrySchedule(jitter=0)
    waits = [schedule.delay(n) for n in range(1, 8)]
    assert waits == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    assert schedule.delay(8) is None, "after the 8th failed attempt the delivery has failed"
    assert schedule.max_attempts == 8


def test_jitter_stays_within_its_band_and_spreads() -> None:
    schedule = RetrySchedule(jitter=0.1)
    rng = random.Random(7)
    for step, base in enumerate(DEFAULT_DELAYS, start=1):
        seen = {schedule.delay(step, rng) for _ in range(50)}
        assert len(seen) > 1
        for wait in seen:
            assert wait is not None
            assert base * 0.9 <= wait <= base * 1.1


def test_retry_after_is_honoured_but_never_shortens_the_wait() -> None:
    schedule = RetrySchedule(jitter=0)
    assert schedule.next_attempt(T0, 1, timedelta(seconds=120)) == T0 + timedelta(seconds=120)
    assert schedule.next_attempt(T0, 2, timedelta(seconds=1)) == T0 + timedelta(minutes=5)
    assert schedule.next_attempt(T0, 1, timedelta(days=30)) == T0 + timedelta(hours=24)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("Wed, 01 May 2024 00:10:00 GMT", timedelta(minutes=10)),
        ("Tue, 30 Apr 2024 00:10:00 GMT", timedelta(0)),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, T0) == expected


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(T0)
    assert clock.now() == T0
    clock.advance(5)
    clock.advance(timedelta(minutes=5))
    assert clock.now() == T0 + timedelta(minutes=5, seconds=5)
