"""The channels alerts go out through: signed webhooks, DingTalk and WeCom robots (e-mail
is in ``adapters.mail``).

Each sender takes one message's worth of alerts (one alert, or a robot's digest of several)
and reports what happened: success, a failure to retry (with the endpoint's Retry-After),
a failure no retry can mend (the SSRF guard refused the URL, or the address a redirect
points to: redirects are never followed), that the endpoint is gone for good (HTTP 410, or
a robot's errcode for an invalid or deleted robot), or that the receiver rate limits
(a robot's errcode: wait out its block, which is no failed attempt).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urljoin

import httpx

from services.notify.adapters.net import AddressGuard
from services.notify.domain.models import Alert, Channel
from services.notify.domain.rendering import (
    DINGTALK_MAX_BYTES,
    WECOM_MAX_BYTES,
    render_digest,
    render_markdown,
    webhook_body,
)
from services.notify.domain.robots import RobotAnswer, classify
from services.notify.domain.schedule import parse_retry_after
from services.notify.domain.security import dingtalk_signed_url, webhook_headers
from services.notify.domain.ssrf import AddressRefused

_MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """Where a subscription's messages go."""

    subscription_id: str
    channel: Channel
    url: str
    secret: str | None
    #: A rotated-out webhook secret still in its overlap: it signs beside ``secret``.
    previous_secret: str | None = None


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after: timedelta | None = None
    #: The endpoint said it is gone for good (410): disable the subscription.
    gone: bool = False
    #: Trying again cannot succeed (the guard refused the URL): fail the delivery now.
    permanent: bool = False
    #: The receiver is rate limiting: wait ``retry_after``, which is no failed attempt.
    throttled: bool = False


class Sender(Protocol):
    async def send(
        self, target: Target, alerts: Sequence[Alert], message_id: str
    ) -> SendOutcome: ...


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class HttpSender:
    """The HTTP part the webhook and robot senders share."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        wall: Callable[[], float] = time.time,
        guard: AddressGuard | None = None,
    ) -> None:
        self.client = client
        self.wall = wall
        #: The client's own guard, to judge the URL's host before httpx parses it (httpx
        #: rejects ``0177.0.0.1`` as an invalid URL, which would hide the reason).
        self.guard = guard

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[SendOutcome, bytes]:
        started = time.perf_counter()
        try:
            if self.guard is not None:
                self.guard.check_literal(url)
            async with self.client.stream(
                "POST",
                url,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8", **headers},
            ) as response:
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received.extend(chunk)
                    if len(received) >= _MAX_RESPONSE_BYTES:
                        break
                outcome = self._judge(response, started)
                if response.is_redirect:
                    outcome = await self._judge_redirect(url, response, outcome)
                return outcome, bytes(received)
        except AddressRefused as exc:
            error = f"SSRF guard: {exc}"
            return SendOutcome(False, None, _elapsed_ms(started), error, permanent=True), b""
        except httpx.InvalidURL as exc:
            error = f"invalid url: {exc}"
            return SendOutcome(False, None, _elapsed_ms(started), error, permanent=True), b""
        except httpx.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
            return SendOutcome(False, None, _elapsed_ms(started), error), b""
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return SendOutcome(False, None, _elapsed_ms(started), error), b""

    async def _judge_redirect(
        self, url: str, response: httpx.Response, outcome: SendOutcome
    ) -> SendOutcome:
        """A redirect is never followed; one towards an address the guard refuses fails
        the delivery at once (an endpoint pointing inward is no failure a retry mends)."""
        location = response.headers.get("location", "")
        if self.guard is None or not location:
            return outcome
        try:
            await self.guard.check_url(urljoin(url, location))
        except AddressRefused as exc:
            error = f"redirect to {location} not followed; SSRF guard: {exc}"
            return replace(outcome, error=error, permanent=True)
        except ValueError:
            pass  # no URL the guard can read (a bad port): not followed, as any redirect
        return outcome

    def _judge(self, response: httpx.Response, started: float) -> SendOutcome:
        status = response.status_code
        latency = _elapsed_ms(started)
        if 200 <= status < 300:
            return SendOutcome(True, status, latency)
        if status == 410:
            return SendOutcome(False, status, latency, "410 Gone: the endpoint is gone", gone=True)
        if 300 <= status < 400:
            where = response.headers.get("location", "?")
            return SendOutcome(False, status, latency, f"redirect to {where} not followed")
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        return SendOutcome(False, status, latency, f"HTTP {status}", retry_after=retry_after)


class WebhookSender(HttpSender):
    """Standard Webhooks: ``webhook-id`` (the delivery id, stable across retries),
    ``webhook-timestamp`` and ``webhook-signature`` over the exact body bytes (two
    signatures, space-separated, while a rotated-out secret is in its overlap)."""

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        if len(alerts) != 1 or not target.secret:
            raise ValueError("a webhook message carries one alert and needs a secret")
        body = json.dumps(webhook_body(alerts[0]), ensure_ascii=False).encode("utf-8")
        headers = webhook_headers(
            target.secret, message_id, int(self.wall()), body, previous=target.previous_secret
        )
        outcome, _ = await self._post(target.url, body, headers)
        return outcome


class _RobotSender(HttpSender):
    max_bytes = WECOM_MAX_BYTES

    def render(self, alerts: Sequence[Alert]) -> tuple[str, str]:
        if len(alerts) == 1:
            return render_markdown(alerts[0], self.max_bytes)
        return render_digest(alerts, self.max_bytes)

    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        raise NotImplementedError

    def url_for(self, target: Target) -> str:
        return target.url

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        title, text = self.render(alerts)
        payload = self.payload(title, text, message_id)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        outcome, answer = await self._post(self.url_for(target), body, {})
        if not outcome.ok:
            return outcome
        return judge_robot_answer(target.channel, outcome, answer)


def judge_robot_answer(channel: Channel, outcome: SendOutcome, answer: bytes) -> SendOutcome:
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
    verdict = classify(channel, code)
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


class DingTalkSender(_RobotSender):
    max_bytes = DINGTALK_MAX_BYTES

    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        # msgUuid: the same for every attempt at this message, so DingTalk posts a retried
        # one (after a timeout that hid its success) once.
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "msgUuid": message_id,
        }

    def url_for(self, target: Target) -> str:
        if not target.secret:
            return target.url
        return dingtalk_signed_url(target.url, target.secret, int(self.wall() * 1000))


class WeComSender(_RobotSender):
    max_bytes = WECOM_MAX_BYTES

    def payload(self, title: str, text: str, message_id: str) -> dict[str, object]:
        return {"msgtype": "markdown", "markdown": {"content": text}}


class Senders:
    """The sender of each channel."""

    def __init__(self, by_channel: dict[Channel, Sender]) -> None:
        self.by_channel = by_channel

    def __getitem__(self, channel: Channel) -> Sender:
        return self.by_channel[channel]
