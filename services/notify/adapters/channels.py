"""The channels alerts go out through: signed webhooks, DingTalk and WeCom robots, e-mail.

Each sender takes one message's worth of alerts (one alert, or a robot's digest of several)
and reports what happened: success, a failure to retry (with the endpoint's Retry-After),
a failure no retry can mend (the SSRF guard refused the URL, or the address a redirect
points to: redirects are never followed), or that the endpoint is gone for good (HTTP 410).
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import urljoin

import httpx

from services.notify.adapters.net import AddressGuard
from services.notify.domain.models import Alert, Channel, email_recipients
from services.notify.domain.rendering import (
    DINGTALK_MAX_BYTES,
    WECOM_MAX_BYTES,
    render_digest,
    render_markdown,
    render_text,
    webhook_body,
)
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

    def payload(self, title: str, text: str) -> dict[str, object]:
        raise NotImplementedError

    def url_for(self, target: Target) -> str:
        return target.url

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        title, text = self.render(alerts)
        body = json.dumps(self.payload(title, text), ensure_ascii=False).encode("utf-8")
        outcome, answer = await self._post(self.url_for(target), body, {})
        if not outcome.ok:
            return outcome
        # Robots answer 200 even when they refuse: the errcode in the body tells.
        try:
            parsed = json.loads(answer or b"{}")
        except ValueError:
            return SendOutcome(False, outcome.status_code, outcome.latency_ms, "answer not JSON")
        code = parsed.get("errcode", 0) if isinstance(parsed, dict) else 0
        if code != 0:
            message = parsed.get("errmsg", "") if isinstance(parsed, dict) else ""
            return SendOutcome(
                False, outcome.status_code, outcome.latency_ms, f"errcode {code}: {message}"
            )
        return outcome


class DingTalkSender(_RobotSender):
    max_bytes = DINGTALK_MAX_BYTES

    def payload(self, title: str, text: str) -> dict[str, object]:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}

    def url_for(self, target: Target) -> str:
        if not target.secret:
            return target.url
        return dingtalk_signed_url(target.url, target.secret, int(self.wall() * 1000))


class WeComSender(_RobotSender):
    max_bytes = WECOM_MAX_BYTES

    def payload(self, title: str, text: str) -> dict[str, object]:
        return {"msgtype": "markdown", "markdown": {"content": text}}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    sender: str = "alliance-watch@localhost"
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = 10.0


class EmailSender:
    """Plain-text alerts over the operator's SMTP relay (its host is configuration, not
    a bureau's choice, so it is not put through the SSRF guard)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def compose(self, target: Target, alert: Alert, message_id: str) -> EmailMessage:
        subject, body = render_text(alert)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.settings.sender
        message["To"] = ", ".join(email_recipients(target.url))
        message["Date"] = formatdate(localtime=False)
        # Stable across retries: a mail system that saw it already can drop the copy.
        message["Message-ID"] = f"<{message_id}@alliance-watch>"
        message["X-Alliance-Id"] = alert.alliance.id
        message.set_content(body)
        return message

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        if not self.settings.host:
            return SendOutcome(False, None, 0.0, "no SMTP relay configured (NOTIFY_SMTP_HOST)")
        if len(alerts) != 1:
            raise ValueError("an e-mail carries one alert")
        message = self.compose(target, alerts[0], message_id)
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._deliver, message)
        except smtplib.SMTPResponseException as exc:
            return SendOutcome(
                False,
                exc.smtp_code,
                _elapsed_ms(started),
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
            )
        except (smtplib.SMTPException, OSError) as exc:
            return SendOutcome(False, None, _elapsed_ms(started), f"{type(exc).__name__}: {exc}")
        return SendOutcome(True, 250, _elapsed_ms(started))

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with smtp:
            if s.starttls and not s.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            smtp.send_message(message)


class Senders:
    """The sender of each channel."""

    def __init__(self, by_channel: dict[Channel, Sender]) -> None:
        self.by_channel = by_channel

    def __getitem__(self, channel: Channel) -> Sender:
        return self.by_channel[channel]
