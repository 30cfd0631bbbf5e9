"""When e-mail digests go out: daily or weekly (on Monday), at an hour of Asia/Shanghai
time; each period has a key, so that it is sent once whatever restarts in between."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Cadence(StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"


@dataclass(frozen=True)
class Period:
    """``[start, end)``, aware; the digest of the period is due from ``end`` on."""

    key: str
    start: datetime
    end: datetime
    cadence: Cadence

    @property
    def label(self) -> str:
        """The period in Chinese, for the subject line."""
        first = self.start.astimezone(SHANGHAI).date()
        last = (self.end - timedelta(seconds=1)).astimezone(SHANGHAI).date()
        if self.cadence is Cadence.daily:
            return _day(last)
        return f"{_day(first)}至{_day(last)}"


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def latest_period(cadence: Cadence, now: datetime, hour: int) -> Period:
    """The newest period that has ended by ``now``: for ``daily``, the 24 hours before
    today's ``hour`` (Shanghai time; yesterday's if that hour is still to come), for
    ``weekly`` the week before the latest Monday ``hour``."""
    if cadence is Cadence.immediate:
        raise ValueError("an immediate subscription has no digest periods")
    local = now.astimezone(SHANGHAI)
    end_day = local.date()
    if cadence is Cadence.weekly:
        end_day -= timedelta(days=end_day.weekday())  # Monday
    end = datetime.combine(end_day, time(hour), SHANGHAI)
    step = timedelta(days=1 if cadence is Cadence.daily else 7)
    if end > local:
        end -= step
    start = end - step
    if cadence is Cadence.daily:
        key = f"daily:{end.date().isoformat()}"
    else:
        year, week, _ = end.date().isocalendar()
        key = f"weekly:{year}-W{week:02d}"
    return Period(key, start, end, cadence)


def period_due(cadence: Cadence, now: datetime, hour: int, since: datetime) -> Period | None:
    """The period whose digest is due at ``now`` for a subscription that exists since
    ``since``: the latest ended one, unless it ended before the subscription began (no
    digest of a time it was not there). Whether it was sent already is the store's to say
    (``digest_periods``), so it is sent once however often this is asked."""
    if cadence is Cadence.immediate:
        return None
    period = latest_period(cadence, now, hour)
    return period if period.end > since else None
