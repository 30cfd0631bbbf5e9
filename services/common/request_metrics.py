"""Counts and times every HTTP answer, the 500 of an unhandled exception included (the
``HTTPServerErrors`` alert reads ``http_requests_total``)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestMetrics:
    """Outermost of a service's own middleware, so a 413 from the body cap is counted too.
    An exception escaping the app is counted as the 500 the server error middleware
    answers with, then re-raised for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False

        async def recording_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            if not answered:
                status = 500
            _record(scope, status, started)
            raise
        _record(scope, status, started)


def _record(scope: Scope, status: int, started: float) -> None:
    # The router leaves the matched route in the scope: its template, not the raw path, so
    # ids do not explode the label set.
    route = getattr(scope.get("route"), "path", "unmatched")
    HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
    HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)
