"""DingTalk custom robots: markdown up to 20,000 bytes, an optional signing secret (the
URL carries ``timestamp`` and ``sign``), and ``msgUuid``, meant to let DingTalk post a
retried message once (no DingTalk SDK or client read here sends it: unverified).

Error codes, from DingTalk's custom-robot documentation as recalled; only 300001 could be
checked here (against a recorded answer). A code missing from the table is retried on the
schedule, so a wrong entry costs retries, not alerts:

- rate limited: 130101 (the older "send too fast, exceed 20 times per minute") and 410100
  ("发送速度太快而限流"). DingTalk then blocks the robot for 10 minutes.
- the robot is gone or its address invalid: 300001 ("token is not exist"), 310000
  (signature, keyword or IP settings of the robot refuse the message: "sign not match",
  "keywords not in content", "ip not in whitelist"), 400013 (group dissolved), 400101
  (access_token does not exist), 400102 (robot stopped), 400106 (robot does not exist).
- the content was refused: 430101 to 430104 (unsafe link, text, image, content).
"""

from __future__ import annotations

from datetime import timedelta

from services.notify.channels.robot import RobotSender
from services.notify.channels.spec import ChannelSpec, RobotLimits, Signing
from services.notify.domain.models import Channel
from services.notify.domain.rendering import robot_markdown
from services.notify.domain.robots import RobotAnswer
from services.notify.domain.security import dingtalk_signed_url
from services.notify.domain.targets import any_secret, http_target

MAX_BYTES = 20000
#: How long DingTalk blocks a robot that sent more than 20 messages in a minute.
BLOCK = timedelta(minutes=10)

ERRCODES: dict[int, RobotAnswer] = {
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


class DingTalkSender(RobotSender):
    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        # msgUuid: the same for every attempt at this message, meant to let DingTalk post a
        # retried one (after a timeout that hid its success) once; unverified, see above.
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "msgUuid": message_id,
        }


SPEC = ChannelSpec(
    name=Channel.dingtalk,
    make_sender=DingTalkSender,
    render=robot_markdown,
    validate_target=http_target,
    validate_secret=any_secret,  # the robot's own SEC... key
    signing=Signing(url=dingtalk_signed_url),
    max_bytes=MAX_BYTES,
    robot=RobotLimits(ERRCODES, BLOCK, per_minute=20),
)
