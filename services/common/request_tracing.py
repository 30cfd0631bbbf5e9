"""A server span for every HTTP request a service answers, child of the ``traceparent`` the
client sent if any (a crawler that traces its pushes sees them continue here).

Health, readiness and metrics are polled all day and are no one's story: they get none.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import tracing

UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestTracing:
    """Outermost middleware: its span covers the 413 of the body cap and a 500 too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name.decode("latin-1") in tracing.TRACE_HEADERS
        }
        method = scope["method"]
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.tracer().start_as_current_span(
            method,
            # A request that brings no traceparent starts a trace (or goes on in the
            # current one, when something outside the app made a span).
            context=tracing.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, recording_send)
            finally:
                # The router leaves the matched route's template in the scope.
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
