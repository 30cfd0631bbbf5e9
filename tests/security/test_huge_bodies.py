"""Huge bodies against every running service, without credentials: a declared 100 MB is
refused with 413 before a byte of it is sent, and a chunked body (no length declared) is
answered 413 once it passes the limit, while the client has not ended it: the service
stops reading instead of buffering it whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from services.common.settings import DEFAULT_MAX_REQUEST_BYTES
from services.ingest.config import IngestSettings
from tests.security.rawhttp import read_answer, send_chunk, start_post
from tests.security.tally import Tally
from tools.harness import CRAWLER_TOKEN, Stack

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 16 * 1024


def default(name: str) -> int:
    value: int = IngestSettings.model_fields[name].default
    return value


#: (service, path, its body limit with the stack's default settings); extract takes no
#: body at all, and its cap holds on a path it does not even route.
ROUTES = [
    ("ingest", "/v1/articles", default("max_article_bytes")),
    ("ingest", "/v1/articles/batch", default("max_batch_bytes")),
    ("registry", "/v1/renames", DEFAULT_MAX_REQUEST_BYTES),
    ("notify", "/v1/bureaus", DEFAULT_MAX_REQUEST_BYTES),
    ("notify", "/v1/subscriptions", DEFAULT_MAX_REQUEST_BYTES),
    ("extract", "/v1/articles", DEFAULT_MAX_REQUEST_BYTES),
]


def declared(stack: Stack, service: str, path: str) -> str | None:
    headers = {"Content-Type": "application/json", "Content-Length": str(HUNDRED_MB)}
    answer = read_answer(start_post(stack[service].url, path, headers))
    return None if answer.status == 413 else f"answered {answer.status}: {answer.body[:200]!r}"


def chunked(stack: Stack, service: str, path: str, limit: int) -> str | None:
    """Send just past ``limit`` of a body that never ends, then read the answer: a
    service that waited for the end of the body would never answer (the socket timeout
    fails the test instead)."""
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    if path == "/v1/articles/batch":
        # This route checks the token before it reads its body at all (a 401 unread):
        # with a token, it is the reading that must stop at the limit.
        headers["Authorization"] = f"Bearer {CRAWLER_TOKEN}"
    sock = start_post(stack[service].url, path, headers)
    sent = 0
    while sent <= limit:
        piece = b" " * min(CHUNK, limit + 1 - sent)
        if not send_chunk(sock, piece):
            break  # the service closed: it stopped reading; its answer is waiting
        sent += len(piece)
    answer = read_answer(sock)
    if answer.status != 413:
        return f"answered {answer.status} after {sent} bytes: {answer.body[:200]!r}"
    return None


def attempt(send: Callable[..., str | None], *args: Any) -> str | None:
    """The problem with one attempt, a dead or silent connection included."""
    try:
        return send(*args)
    except OSError as exc:  # a timeout too: the service kept waiting for the body
        return f"no answer: {type(exc).__name__} {exc}"


def test_huge_unauthenticated_bodies_are_refused_before_they_are_read(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/huge bodies")
    for service, path, limit in ROUTES:
        tally.check(f"{service} {path}: 100 MB declared", attempt(declared, stack, service, path))
        if service != "extract":  # it routes no body: nothing would read one
            problem = attempt(chunked, stack, service, path, limit)
            tally.check(f"{service} {path}: chunked past {limit}", problem)
    for service in ("ingest", "registry", "notify", "extract"):
        alive = read_answer(start_post(stack[service].url, "/healthz", {"Content-Length": "0"}))
        tally.check(f"{service} still answers", None if alive.status == 405 else str(alive))
    tally.report(capsys)
