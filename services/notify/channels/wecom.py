"""WeCom group robots: markdown up to 4,096 bytes, no secret (the key in the URL is the
credential).

Error codes, as WeCom's global error-code table has them (checked against the copies the
open-source WeCom clients carry):

- rate limited: 45009 ("接口调用超过限制") and 45033 ("接口并发调用超过限制"). WeCom counts
  20 a minute: the next minute is free again.
- the robot is gone or its address invalid: 93000 ("机器人webhookurl不合法或者机器人已经被移除
  出群"), 93004 ("机器人被停用") and 93008 ("不在群里").
- 40001 and 40014 are an application's bad secret or access token, which a robot addressed
  by its key does not have: like any other code, retried on the schedule.
"""

from __future__ import annotations

from datetime import timedelta

from services.notify.channels.robot import RobotSender
from services.notify.channels.spec import ChannelSpec, RobotLimits
from services.notify.domain.models import Channel
from services.notify.domain.rendering import robot_markdown
from services.notify.domain.robots import RobotAnswer
from services.notify.domain.targets import http_target

MAX_BYTES = 4096
#: WeCom counts 20 a minute: the next minute is free again.
BLOCK = timedelta(minutes=1)

ERRCODES: dict[int, RobotAnswer] = {
    45009: RobotAnswer.rate_limited,
    45033: RobotAnswer.rate_limited,
    93000: RobotAnswer.gone,
    93004: RobotAnswer.gone,
    93008: RobotAnswer.gone,
}


class WeComSender(RobotSender):
    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        return {"msgtype": "markdown", "markdown": {"content": text}}


SPEC = ChannelSpec(
    name=Channel.wecom,
    make_sender=WeComSender,
    render=robot_markdown,
    validate_target=http_target,
    max_bytes=MAX_BYTES,
    robot=RobotLimits(ERRCODES, BLOCK, per_minute=20),
)
