"""Refuses request bodies over a size limit with 413 before they are buffered whole.

It runs before routing, so before any authentication: an unauthenticated client cannot
make a service hold more than the limit. A declared ``Content-Length`` over the limit is
refused before a byte of the body is read; a chunked body is read only up to the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.answers import ErrorResponse

#: The byte limit of a request path.
BodyLimit = Callable[[str], int]


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit_for: BodyLimit) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        refusal = _too_large(limit)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await refusal(scope, receive, send)
                return
        seen = 0
        over = False  # the body passed the limit
        started = False  # the app's own answer began
        refused = False  # the 413 was sent

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, refused
            if over and not started:
                # The app caught the overflow and answers something else (FastAPI makes any
                # error while reading a body a 400): the answer is the 413, the app's dropped.
                if not refused:
                    refused = True
                    await refusal(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise  # the app's answer was under way when the body overflowed
            if not refused:
                await refusal(scope, receive, send)


def _too_large(limit: int) -> ErrorResponse:
    return ErrorResponse(
        {"detail": f"the request body is larger than {limit} bytes, this endpoint's limit"},
        status_code=413,
    )
