from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from services.notify.adapters.net import system_resolver
from services.notify.adapters.sealing import new_key
from services.notify.bootstrap import NotifyComponents, build_app, build_components
from services.notify.config import NotifySettings
from tests.clocks import FakeClock
from tests.unit.notify.mailbox import Mailbox
from tests.unit.notify.receivers import Receiver, free_port

OPERATOR = "test-operator-token-0123456789"
#: The tests' NOTIFY_SECRETS_KEY: fresh each run, as a deployment's would be.
SECRETS_KEY = new_key()


def make_settings(database_url: str, **overrides: object) -> NotifySettings:
    values: dict[str, object] = {
        "APP_ENV": "test",
        "NOTIFY_DATABASE_URL": database_url,
        "NOTIFY_OPERATOR_TOKEN": OPERATOR,
        "NOTIFY_SECRETS_KEY": SECRETS_KEY,
        "NOTIFY_ALLOWED_NETWORKS": "127.0.0.1/32",
        "NOTIFY_WORKER_POLL_SECONDS": 0.05,
        "NOTIFY_SEND_TIMEOUT_SECONDS": 3,
        **overrides,
    }
    return NotifySettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Api:
    client: httpx.AsyncClient
    parts: NotifyComponents
    clock: FakeClock

    async def bureau(self, name: str) -> tuple[str, dict[str, str]]:
        answer = await self.client.post(
            "/v1/bureaus", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body["id"], {"Authorization": f"Bearer {body['api_key']}"}


#: Names the test resolver answers itself, as a hostile DNS might.
FAKE_DNS = {
    "internal.bureau.example": ["10.0.0.7"],
    "metadata.bureau.example": ["169.254.169.254"],
    "loopback.bureau.example": ["127.0.0.1"],
    "mixed.bureau.example": ["8.8.8.8", "10.0.0.7"],
}


async def fake_dns_resolver(host: str, port: int) -> list[str]:
    """FAKE_DNS, then the system for loopback names only: no query leaves the machine."""
    if host in FAKE_DNS:
        return FAKE_DNS[host]
    if host == "localhost":
        return await system_resolver(host, port)
    raise socket.gaierror(socket.EAI_NONAME, f"{host}: not in the test resolver")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def api(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Api]:
    """The notify app (no Kafka) on a fresh SQLite file, its worker on a fake clock."""
    settings = make_settings(f"sqlite:///{tmp_path / 'notify.db'}")
    parts = build_components(
        settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Api(client, parts, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server: its mailbox and port."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def mail_api(
    tmp_path: Path, smtp: tuple[Mailbox, int], clock: FakeClock
) -> AsyncIterator[Api]:
    """The notify app with the local SMTP server as its relay."""
    settings = make_settings(
        f"sqlite:///{tmp_path / 'notify.db'}",
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=smtp[1],
        NOTIFY_SMTP_FROM="alerts@alliance-watch.example",
        NOTIFY_PUBLIC_URL="https://notify.example.cn",
    )
    parts = build_components(
        settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Api(client, parts, clock)
