"""What the group robots share: markdown messages (a digest for several alerts), posted
as JSON, and an ``errcode`` in a 200 answer that says whether the robot took it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.notify.adapters.sending import HttpSender, SendOutcome, Target
from services.notify.channels.spec import ChannelSpec, RobotLimits, SenderKit
from services.notify.domain.models import Alert
from services.notify.domain.robots import RobotAnswer


class RobotSender(HttpSender):
    """A robot's sender: a channel module gives its ``payload`` (and its entry's signing,
    limits and error codes do the rest)."""

    def __init__(self, kit: SenderKit, spec: ChannelSpec) -> None:
        super().__init__(kit.client, kit.wall, kit.guard)
        if spec.robot is None:
            raise ValueError(f"channel {spec.name} has no robot limits")
        self.spec = spec
        self.robot: RobotLimits = spec.robot

    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        raise NotImplementedError

    def url_for(self, target: Target) -> str:
        signing = self.spec.signing
        if signing is None or signing.url is None or not target.secret:
            return target.url
        return signing.url(target.url, target.secret, int(self.wall() * 1000))

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        title, text = self.spec.render(alerts, self.spec.max_bytes)
        payload = self.payload(title, text, message_id)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        outcome, answer = await self._post(self.url_for(target), body, {})
        if not outcome.ok:
            return outcome
        return judge_robot_answer(self.robot, outcome, answer)


def judge_robot_answer(robot: RobotLimits, outcome: SendOutcome, answer: bytes) -> SendOutcome:
    """Robots answer 200 even when they refuse: the errcode in the body tells."""
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError:
        return SendOutcome(False, outcome.status_code, outcome.latency_ms, "answer not JSON")
    if not isinstance(parsed, dict):
        return outcome
    try:
        code = int(parsed.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        code = -1
    if code == 0:
        return outcome
    error = f"errcode {code}: {str(parsed.get('errmsg', ''))[:300]}"
    verdict = robot.classify(code)
    status, latency = outcome.status_code, outcome.latency_ms
    if verdict.kind is RobotAnswer.rate_limited:
        error = f"{error} (rate limited: waiting {verdict.wait})"
        return SendOutcome(False, status, latency, error, retry_after=verdict.wait, throttled=True)
    if verdict.kind is RobotAnswer.gone:
        error = f"the robot refuses its address or credentials, {error}"
        return SendOutcome(False, status, latency, error, gone=True)
    if verdict.kind is RobotAnswer.refused:
        return SendOutcome(False, status, latency, f"content refused, {error}", permanent=True)
    return SendOutcome(False, status, latency, error)
