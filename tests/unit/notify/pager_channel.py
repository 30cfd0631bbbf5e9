"""A made-up group robot channel, "pager", written as a real one would be: this module and
one line in the channel table are all it takes (test_channel_table.py adds the line).

It posts ``{"page": {"title", "body", "id"}}``, takes 3 messages a minute and 1,500 bytes a
message, blocks for 5 minutes when rate limited, and answers with an ``errcode`` as the
other robots do, with codes of its own.
"""

from __future__ import annotations

from datetime import timedelta

from services.notify.channels.robot import RobotSender
from services.notify.channels.spec import ChannelSpec, RobotLimits
from services.notify.domain.rendering import robot_markdown
from services.notify.domain.robots import RobotAnswer
from services.notify.domain.targets import http_target

NAME = "pager"
MAX_BYTES = 1500
PER_MINUTE = 3
BLOCK = timedelta(minutes=5)
RATE_LIMITED = 7001
GONE = 7002


class PagerSender(RobotSender):
    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        return {"page": {"title": title, "body": text, "id": message_id}}


SPEC = ChannelSpec(
    name=NAME,
    make_sender=PagerSender,
    render=robot_markdown,
    validate_target=http_target,
    max_bytes=MAX_BYTES,
    robot=RobotLimits(
        {RATE_LIMITED: RobotAnswer.rate_limited, GONE: RobotAnswer.gone},
        BLOCK,
        per_minute=PER_MINUTE,
    ),
)
