"""What a group robot's answer means, and which robot a URL is.

DingTalk and WeCom answer HTTP 200 with an ``errcode`` in the JSON body. The codes are
told apart as below. WeCom's are checked against WeCom's global error-code table as the
open-source WeCom clients carry it (45009 接口调用超过限制, 45033 接口并发调用超过限制, 93000
机器人webhookurl不合法或者机器人已经被移除出群, 93004 机器人被停用, 93008 不在群里).
Of DingTalk's, only 300001 ("token is not exist") could be checked here, against a
recorded answer; the others follow DingTalk's custom-robot documentation as recalled and
are unverified: a code missing from the table is retried on the schedule, so a wrong entry
costs retries, not alerts.

- rate limited: DingTalk 130101 (the older "send too fast, exceed 20 times per minute")
  and 410100 ("发送速度太快而限流"), WeCom 45009 and 45033. DingTalk then blocks the robot
  for 10 minutes; WeCom counts by the minute. The delivery waits the block out, and the
  wait is no failed attempt of its retry schedule.
- the robot is gone or its address invalid: DingTalk 300001 ("token is not exist"),
  310000 (signature, keyword or IP settings of the robot refuse the message: "sign not
  match", "keywords not in content", "ip not in whitelist"), 400013 (group dissolved),
  400101 (access_token does not exist), 400102 (robot stopped), 400106 (robot does not
  exist); WeCom 93000 (wrong key, or the robot was removed from the chat), 93004 (robot
  disabled) and 93008 (not in the chat). The subscription is disabled with the reason, as
  for an HTTP 410: no retry mends it. (WeCom's 40001 and 40014 are an application's bad
  secret or access token, which a robot addressed by its key does not have: retried.)
- the content was refused: DingTalk 430101 to 430104 (unsafe link, text, image, content).
  That message fails at once; other messages may pass.
- anything else is retried on the schedule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.notify.domain.models import Channel


class RobotAnswer(StrEnum):
    ok = "ok"
    rate_limited = "rate_limited"
    gone = "gone"
    refused = "refused"  # this content, permanently
    retry = "retry"


#: How long DingTalk blocks a robot that sent more than 20 messages in a minute.
DINGTALK_BLOCK = timedelta(minutes=10)
#: WeCom counts 20 a minute: the next minute is free again.
WECOM_BLOCK = timedelta(minutes=1)

_DINGTALK: dict[int, RobotAnswer] = {
    130101: RobotAnswer.rate_limited,
    410100: RobotAnswer.rate_limited,
    300001: RobotAnswer.gone,
    310000: RobotAnswer.gone,
    400013: RobotAnswer.gone,
    400101: RobotAnswer.gone,
    400102: RobotAnswer.gone,
    400106: RobotAnswer.gone,
    430101: RobotAnswer.refused,
    430102: RobotAnswer.refused,
    430103: RobotAnswer.refused,
    430104: RobotAnswer.refused,
}
_WECOM: dict[int, RobotAnswer] = {
    45009: RobotAnswer.rate_limited,
    45033: RobotAnswer.rate_limited,
    93000: RobotAnswer.gone,
    93004: RobotAnswer.gone,
    93008: RobotAnswer.gone,
}


@dataclass(frozen=True)
class RobotVerdict:
    kind: RobotAnswer
    #: For a rate limit: how long the robot will refuse messages.
    wait: timedelta | None = None


def classify(channel: Channel, errcode: int) -> RobotVerdict:
    """What ``errcode`` from a ``channel`` robot means for the delivery."""
    if errcode == 0:
        return RobotVerdict(RobotAnswer.ok)
    table = _DINGTALK if channel is Channel.dingtalk else _WECOM
    kind = table.get(errcode, RobotAnswer.retry)
    if kind is RobotAnswer.rate_limited:
        block = DINGTALK_BLOCK if channel is Channel.dingtalk else WECOM_BLOCK
        return RobotVerdict(kind, block)
    return RobotVerdict(kind)


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
