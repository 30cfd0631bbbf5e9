"""Outbound HTTP that cannot be aimed at the inside: the SSRF guard, when a subscription
names a URL and at connect time.

httpx keeps the URL's host for the ``Host`` header, TLS SNI and certificate checks, but the
TCP connection is opened by a network backend of ours: it resolves the name itself, judges
every address (``domain.ssrf``), and connects to the address it judged. Nothing resolves
the name a second time, so DNS rebinding between check and connect has no window. The
client follows no redirects and ignores proxy settings from the environment (a proxy
would connect on our behalf, past the guard).

The same ``AddressGuard`` judges a subscription's URL when it is created or changed, so a
bureau hears at once that its URL is refused, rather than from failed deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from services.common import tracing
from services.notify.adapters.aio_stream import AsyncioBackend
from services.notify.domain.ssrf import (
    AddressRefused,
    IPNetwork,
    Verdict,
    check_addresses,
    host_address,
    literal_host_verdict,
    refusal,
)

log = logging.getLogger(__name__)
#: How many URLs' verdicts a guard keeps (all of them start over past that).
_REMEMBERED_URLS = 10_000
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class AddressGuard:
    """Which hosts outbound requests may reach: the allow-list and the resolver together."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork] = (),
        resolver: Resolver = system_resolver,
        *,
        resolve_seconds: float = 5.0,
    ) -> None:
        self.allowed = tuple(allowed)
        self.resolver = resolver
        self.resolve_seconds = resolve_seconds
        #: Each URL's literal verdict: the URL and the allow-list decide it, and the
        #: worker asks again at every delivery to the same few URLs.
        self._literal: dict[str, Verdict | None] = {}

    def check_literal(self, url: str) -> None:
        """Refuse a URL whose host is an address (in any form) or a loopback name that
        the guard refuses; a host name passes (only resolving can judge it)."""
        try:
            verdict = self._literal[url]
        except KeyError:
            if len(self._literal) >= _REMEMBERED_URLS:
                self._literal.clear()
            verdict = self._literal[url] = literal_host_verdict(url, self.allowed)
        if verdict is not None and not verdict.allowed:
            host = urlsplit(url).hostname or ""
            raise AddressRefused(f"{refusal(host, verdict)}; refused")

    async def check_url(self, url: str) -> None:
        """Refuse a URL whose host is, or resolves now to, an address the guard refuses.

        A name that does not resolve yet passes: each delivery judges it again when it
        connects.
        """
        self.check_literal(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host_address(host) is not None:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), self.resolve_seconds)
        except (OSError, TimeoutError) as exc:
            log.info("%s does not resolve now (%s); judged again at each delivery", host, exc)
            return
        check_addresses(host, addresses, self.allowed)

    async def pin(self, host: str, port: int, timeout: float | None) -> str:
        """The address to connect to for ``host``, or ``AddressRefused``."""
        literal = host_address(host)
        if literal is not None:
            return check_addresses(host, [str(literal)], self.allowed)
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        return check_addresses(host, addresses, self.allowed)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the SSRF guard allows, pinned at resolution.

    ``inner`` opens the connection to the pinned address (by default ``AsyncioBackend``:
    httpcore's anyio backend costs notify a quarter of its CPU); TLS is then verified
    against the URL's host, which httpcore hands to ``start_tls``.
    """

    def __init__(
        self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.guard = guard
        self.inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pinned = await self.guard.pin(host, port, timeout)
        return await self.inner.connect_tcp(
            pinned,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not a delivery target")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with its connection pool opened through ``GuardedBackend``."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        limits: httpx.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context``: whom to trust (by default the certifi bundle; tests pass
        their own CA)."""
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(cafile=certifi.where()),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )


def guarded_client(
    allowed: Sequence[IPNetwork] = (),
    *,
    timeout_seconds: float = 10.0,
    resolver: Resolver = system_resolver,
    guard: AddressGuard | None = None,
) -> httpx.AsyncClient:
    """The one client every delivery goes out through (``guard`` wins over ``allowed``
    and ``resolver``, which make one)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(guard or AddressGuard(allowed, resolver)),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
        headers={"User-Agent": "AllianceWatch-Notify/1.0"},
        event_hooks={"request": [_trace_request]},
    )


async def _trace_request(request: httpx.Request) -> None:
    """The delivery attempt's span goes out as ``traceparent``: an endpoint that traces
    continues the article's trace."""
    for name, value in tracing.inject({}).items():
        request.headers[name] = value
