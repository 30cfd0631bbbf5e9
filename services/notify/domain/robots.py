"""What a group robot's answer means, and which robot a URL is.

DingTalk and WeCom answer HTTP 200 with an ``errcode`` in the JSON body; each robot
channel's module (``services.notify.channels.dingtalk``, ``.wecom``) lists what its codes
mean, and its entry in the channel table reads them (``RobotLimits.classify``):

- rate limited: the robot blocks for a while (its entry's ``block``). The delivery waits
  the block out, and the wait is no failed attempt of its retry schedule.
- the robot is gone or its address invalid: the subscription is disabled with the
  reason, as for an HTTP 410: no retry mends it.
- the content was refused: that message fails at once; other messages may pass.
- anything else is retried on the schedule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class RobotAnswer(StrEnum):
    ok = "ok"
    rate_limited = "rate_limited"
    gone = "gone"
    refused = "refused"  # this content, permanently
    retry = "retry"


@dataclass(frozen=True)
class RobotVerdict:
    kind: RobotAnswer
    #: For a rate limit: how long the robot will refuse messages.
    wait: timedelta | None = None


#: The query parameters that name a robot (the rest, such as a signature, do not).
_ROBOT_PARAMS = ("access_token", "key")


def robot_key(url: str) -> str:
    """The robot a URL posts to: its scheme, host, path and token/key, so that two
    subscriptions on one robot (however their URLs are written) share one budget."""
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query) if k in _ROBOT_PARAMS)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme.lower(), host + port, parts.path or "/", urlencode(query), ""))


def message_id_for(delivery_ids: Sequence[str]) -> str:
    """The id of the message carrying these deliveries: the delivery's own id for one, and
    for a digest one derived from its deliveries, so that sending the same digest again
    (a retried timeout) carries the same id. DingTalk gets it as ``msgUuid``, meant to let
    DingTalk drop a copy; no DingTalk SDK or client read here sends that field, so whether
    DingTalk honours it is unverified."""
    if len(delivery_ids) == 1:
        return delivery_ids[0]
    digest = hashlib.sha256("\n".join(sorted(delivery_ids)).encode()).hexdigest()
    return f"msg_{digest[:32]}"
