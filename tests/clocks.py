"""A clock for tests: it moves only when told (notify's ``Clock`` protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | float) -> datetime:
        self.current += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self.current
