"""A daily digest, rendered and sent to a local SMTP server, HTML and plain text with
List-Unsubscribe; then its unsubscribe link, followed over HTTP against the notify API
served on a loopback port, pauses the subscription. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller

from services.notify.bootstrap import NotifyComponents, build_app, build_components
from services.notify.domain.periods import SHANGHAI
from tests.clocks import FakeClock
from tests.unit.notify.conftest import OPERATOR, fake_dns_resolver, make_settings
from tests.unit.notify.factories import CHONGQING, HUAXI, SHANXI, alliance, change
from tests.unit.notify.mailbox import Mailbox
from tests.unit.notify.receivers import free_port


@dataclass
class Served:
    url: str
    parts: NotifyComponents
    clock: FakeClock
    mailbox: Mailbox


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    settings = make_settings(
        database_url,
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=smtp_port,
        NOTIFY_SMTP_FROM="alerts@alliance-watch.example",
        NOTIFY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        NOTIFY_UNSUBSCRIBE_SECRET="Vt3kP8wQz1LmR6yB9nXc4HdJ7sGf2AeU",
        NOTIFY_DIGEST_HOUR=8,
    )
    clock = FakeClock(datetime(2026, 11, 25, 10, tzinfo=SHANGHAI).astimezone(UTC))
    parts = build_components(
        settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver
    )
    app = build_app(settings, components=parts, consume=False, run_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "notify did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", parts, clock, mailbox)
    finally:
        server.should_exit = True
        thread.join(15)
        controller.stop()


async def test_a_daily_digest_goes_out_and_its_link_unsubscribes(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        bureau = await client.post("/v1/bureaus", json={"name": "四川省卫健委"}, headers=operator)
        assert bureau.status_code == 201, bureau.text
        auth = {"Authorization": f"Bearer {bureau.json()['api_key']}"}
        body = {
            "name": "每日汇总",
            "channel": "email",
            "url": "mailto:office@sichuan.example,duty@sichuan.example",
            "cadence": "daily",
        }
        created = await client.post("/v1/subscriptions", json=body, headers=auth)
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        for n, lead in enumerate((HUAXI, SHANXI, CHONGQING)):
            await served.parts.service.receive_change(
                change(f"c-{n}", alliance(f"al-{n}", lead=(lead,)))
            )
        assert await served.parts.worker.run_once() == 0, "held for the digest"
        served.clock.current = datetime(2026, 11, 26, 8, 5, tzinfo=SHANGHAI).astimezone(UTC)
        assert await served.parts.digests.run_once() == 1
        assert served.mailbox.arrived.wait(10)
        [message] = served.mailbox.messages
        assert served.mailbox.envelopes[0][1] == ["office@sichuan.example", "duty@sichuan.example"]
        assert str(message["Subject"]) == "医联体动态日报（2026年11月26日，共3条）"
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain is not None and html is not None
        text, page = plain.get_content(), html.get_content()
        assert text.index("【四川省】") < text.index("【山西省】") < text.index("【重庆市】")
        for n in range(3):
            link = f"https://watch.example.cn/alliances/al-{n}"
            assert f"查看证据：{link}" in text and f'href="{link}"' in page
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        header = str(message["List-Unsubscribe"])
        assert header.startswith(f"<{served.url}/v1/unsubscribe?token=") and header.endswith(">")
        unsubscribe = header[1:-1]
        links = Links()
        links.feed(page)
        assert unsubscribe in links.hrefs and unsubscribe in text
        # The link, as a mail client's one-click (RFC 8058) follows it.
        confirm = await client.get(unsubscribe)
        assert confirm.status_code == 200 and "确认退订" in confirm.text
        done = await client.post(
            unsubscribe,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "已退订" in done.text
        state = (await client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
        assert state["enabled"] is False and state["disabled_reason"] == "unsubscribed"
        items = (await client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=auth)).json()
        assert {i["status"] for i in items["items"]} == {"delivered"}
        # Paused: the next day's period sends nothing.
        await served.parts.service.receive_change(change("c-9", alliance("al-9")))
        served.clock.current = datetime(2026, 11, 27, 9, tzinfo=SHANGHAI).astimezone(UTC)
        assert await served.parts.digests.run_once() == 0
        assert len(served.mailbox.messages) == 1
