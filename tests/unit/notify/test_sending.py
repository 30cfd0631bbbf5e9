"""The HTTP post the webhook and robot senders share: a target's URL judged and parsed
once, and read the same at every delivery."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.notify.adapters.net import AddressGuard, guarded_client
from services.notify.adapters.sending import HttpSender
from services.notify.domain.ssrf import AddressRefused, parse_networks
from tests.unit.notify.receivers import serving


class _Hook(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        _Hook.paths.append(self.path)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[int]:
    _Hook.paths = []
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Hook)) as port:
        yield port


def test_a_url_is_judged_the_same_every_time() -> None:
    guard = AddressGuard()
    for _ in range(2):
        with pytest.raises(AddressRefused, match="loopback"):
            guard.check_literal("http://127.0.0.1:8080/hook")
        guard.check_literal("https://hooks.bureau.example/hook")  # a name: for resolving
    opened = AddressGuard(parse_networks(["127.0.0.1/32"]))
    opened.check_literal("http://127.0.0.1:8080/hook")  # its own allow-list, its own verdict


async def test_each_delivery_to_a_url_goes_to_it(hook: int) -> None:
    guard = AddressGuard(parse_networks(["127.0.0.1/32"]))
    async with guarded_client(guard=guard) as client:
        sender = HttpSender(client, guard=guard)
        for path in ("/a", "/a", "/b"):
            outcome, _ = await sender._post(f"http://127.0.0.1:{hook}{path}", b"{}", {})
            assert outcome.ok and outcome.status_code == 204
    assert _Hook.paths == ["/a", "/a", "/b"]


async def test_a_url_httpx_cannot_read_fails_at_once_every_time() -> None:
    async with guarded_client() as client:
        sender = HttpSender(client)
        for _ in range(2):
            outcome, _ = await sender._post("http://hooks.bureau.example:abc/hook", b"{}", {})
            assert outcome.permanent and (outcome.error or "").startswith("invalid url")
