"""Signed webhooks (Standard Webhooks): one alert per message, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.notify.adapters.sending import HttpSender, SendOutcome, Target
from services.notify.channels.spec import ChannelSpec, SenderKit, Signing
from services.notify.domain.models import Alert, Channel
from services.notify.domain.rendering import plain_text, webhook_body
from services.notify.domain.security import new_webhook_secret, webhook_headers
from services.notify.domain.targets import http_target, webhook_secret


class WebhookSender(HttpSender):
    """``webhook-id`` (the delivery id, stable across retries), ``webhook-timestamp`` and
    ``webhook-signature`` over the exact body bytes (two signatures, space-separated,
    while a rotated-out secret is in its overlap)."""

    def __init__(self, kit: SenderKit, spec: ChannelSpec) -> None:
        super().__init__(kit.client, kit.wall, kit.guard)
        self.spec = spec

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        signing = self.spec.signing
        if len(alerts) != 1 or not target.secret or signing is None or signing.headers is None:
            raise ValueError("a webhook message carries one alert and needs a secret")
        rendered = self.spec.render(alerts, self.spec.max_bytes)
        body = json.dumps(webhook_body(alerts[0], rendered), ensure_ascii=False).encode("utf-8")
        headers = signing.headers(
            target.secret, message_id, int(self.wall()), body, target.previous_secret
        )
        outcome, _ = await self._post(target.url, body, headers)
        return outcome


SPEC = ChannelSpec(
    name=Channel.webhook,
    make_sender=WebhookSender,
    render=plain_text,
    validate_target=http_target,
    validate_secret=webhook_secret,
    new_secret=new_webhook_secret,
    signing=Signing(headers=webhook_headers),
)
