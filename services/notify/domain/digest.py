"""Group robots accept 20 messages a minute: how a burst of alerts is sent within that.

A quiet robot gets one message per alert. When more alerts are due than the minute's
remaining budget comfortably allows, they are folded into digest messages (as many
alerts per message as fit its size limit); what does not fit in this minute's budget waits
for the next free slot. Every alert is in exactly one message: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.notify.domain.models import Alert
from services.notify.domain.rendering import fold_digests

ROBOT_MESSAGES_PER_MINUTE = 20
WINDOW = timedelta(minutes=1)
#: Sends kept in hand for what comes next: above budget minus this, a burst is folded.
RESERVE = 10


@dataclass(frozen=True)
class RobotPlan:
    #: Indices into the due alerts, one list per message to send now.
    messages: list[list[int]] = field(default_factory=list)
    #: Indices that wait for the next free slot, at ``resume_at``.
    postponed: list[int] = field(default_factory=list)
    resume_at: datetime | None = None


def plan_robot_sends(
    alerts: Sequence[Alert],
    recent_sends: Sequence[datetime],
    now: datetime,
    *,
    max_bytes: int,
    limit: int = ROBOT_MESSAGES_PER_MINUTE,
    window: timedelta = WINDOW,
    reserve: int = RESERVE,
    fold: bool = True,
) -> RobotPlan:
    """Which due alerts go now, as which messages, within ``limit`` sends per ``window``;
    ``fold=False`` (a robot that takes no digests) sends one message per alert, and what
    the budget cannot take waits."""
    if not alerts:
        return RobotPlan()
    in_window = sorted(t for t in recent_sends if t > now - window)
    budget = limit - len(in_window)
    if budget <= 0:
        return RobotPlan([], list(range(len(alerts))), in_window[0] + window)
    if not fold or len(alerts) <= max(1, budget - reserve):
        groups = [[i] for i in range(len(alerts))]
    else:
        groups = fold_digests(alerts, max_bytes)
    now_groups, later = groups[:budget], groups[budget:]
    postponed = [i for group in later for i in group]
    resume_at = None
    if postponed:
        sends = sorted([*in_window, *([now] * len(now_groups))])
        resume_at = sends[-limit] + window if len(sends) >= limit else now
    return RobotPlan(now_groups, postponed, resume_at)
