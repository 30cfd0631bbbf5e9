"""When a failed delivery is tried again: the retry schedule, jitter, Retry-After, the clock.

Time is read from an injectable ``Clock`` so that tests move it by hand: a schedule of
hours is checked in milliseconds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

#: Waits after the 1st, 2nd, ... failed attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
#: 10 h. After the last one the delivery has failed (about 27.6 hours after the first try).
DEFAULT_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)

#: The longest wait a Retry-After header may impose.
MAX_RETRY_AFTER = timedelta(hours=24)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class RetrySchedule:
    """``delays[i]`` is the wait after failed attempt ``i + 1``; jitter is ± a fraction."""

    delays: Sequence[timedelta] = DEFAULT_DELAYS
    jitter: float = 0.1

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
        """The wait after ``failed_attempts`` failures in a row, or None: give up."""
        if failed_attempts < 1 or failed_attempts > len(self.delays):
            return None
        base = self.delays[failed_attempts - 1]
        if not self.jitter:
            return base
        factor = 1.0 + (rng or random).uniform(-self.jitter, self.jitter)
        return timedelta(seconds=base.total_seconds() * factor)

    def next_attempt(
        self,
        now: datetime,
        failed_attempts: int,
        retry_after: timedelta | None = None,
        rng: random.Random | None = None,
    ) -> datetime | None:
        """When to try again: never sooner than the endpoint's Retry-After asked."""
        wait = self.delay(failed_attempts, rng)
        if wait is None:
            return None
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return now + wait


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds, or an HTTP date) as a wait from ``now``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)
