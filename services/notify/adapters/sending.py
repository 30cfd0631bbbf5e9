"""What every channel's sender shares: where a message goes (``Target``), what became of
it (``SendOutcome``), and the guarded HTTP post of the webhook and robot senders. The
senders themselves are in ``services.notify.channels``, one module per channel.

Each sender takes one message's worth of alerts (one alert, or a robot's digest of several)
and reports what happened: success, a failure to retry (with the endpoint's Retry-After),
a failure no retry can mend (the SSRF guard refused the URL, or the address a redirect
points to: redirects are never followed), that the endpoint is gone for good (HTTP 410, or
a robot's errcode for an invalid or deleted robot), or that the receiver rate limits
(a robot's errcode: wait out its block, which is no failed attempt).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urljoin

import httpx

from services.notify.adapters.net import AddressGuard
from services.notify.domain.models import Alert
from services.notify.domain.schedule import parse_retry_after
from services.notify.domain.ssrf import AddressRefused

_MAX_RESPONSE_BYTES = 64 * 1024
#: How many targets' parsed URLs a sender keeps (all of them start over past that).
_REMEMBERED_URLS = 10_000


@dataclass(frozen=True)
class Target:
    """Where a subscription's messages go."""

    subscription_id: str
    #: The channel's name (a ``Channel``, or a name only the channel table knows).
    channel: str
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
        #: Targets' URLs as httpx reads them, parsed once (not at every delivery).
        self._urls: dict[str, httpx.URL] = {}

    def _parsed(self, url: str) -> httpx.URL:
        """``url`` as httpx reads it; ``httpx.InvalidURL`` as it would raise it."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _REMEMBERED_URLS:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[SendOutcome, bytes]:
        started = time.perf_counter()
        try:
            if self.guard is not None:
                self.guard.check_literal(url)
            async with self.client.stream(
                "POST",
                self._parsed(url),
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


class Senders:
    """The sender of each channel, by the channel's name."""

    def __init__(self, by_channel: Mapping[str, Sender]) -> None:
        self.by_channel = dict(by_channel)

    def __getitem__(self, channel: str) -> Sender:
        return self.by_channel[channel]
