"""The bureau portal in headless Chromium, on notify run as its own process with the
session's Kafka broker: a bureau signs in with its API key, creates a webhook subscription
with a region picked in the picker, sends a test alert that a local receiver verifies with
the reference Standard Webhooks library, sees it delivered in the log, and cannot open
another bureau's subscription by editing the URL."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.browser.conftest import BrowserPage
from tools.harness import OPERATOR_TOKEN, ServiceProcess, Stack
from tools.localkafka import LocalKafka

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "portal.png"


class VerifyingReceiver:
    """A webhook endpoint on loopback that accepts only what Standard Webhooks verifies."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.verified: list[dict[str, Any]] = []
        self.refused: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    if owner.secret is None:
                        raise WebhookVerificationError("no secret yet")
                    payload = Webhook(owner.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    owner.refused.append(str(exc))
                    self.send_response(400)
                else:
                    owner.verified.append(payload)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> VerifyingReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notify(kafka: LocalKafka, kafka_topics: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """Notify alone, a real process on the session's broker (its topics this test's)."""
    stack = Stack(tmp_path, kafka=kafka, topic_prefix=kafka_topics)
    service = stack["notify"]
    service.start(stack.workdir)
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def new_bureau(notify: ServiceProcess, name: str) -> str:
    answer = httpx.post(
        notify.url + "/v1/bureaus",
        json={"name": name},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    answer.raise_for_status()
    return str(answer.json()["api_key"])


def test_a_bureau_uses_the_portal(notify: ServiceProcess, web: BrowserPage) -> None:
    base = notify.url
    key = new_bureau(notify, "四川省卫生健康委员会")
    other_key = new_bureau(notify, "重庆市卫生健康委员会")
    others = httpx.post(
        base + "/v1/subscriptions",
        json={"name": "重庆市内部系统", "channel": "webhook", "url": "https://hooks.cq.example/a"},
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert others.status_code == 201, others.text
    page = web.page
    with VerifyingReceiver() as receiver:
        # Signing in: the portal sends a stranger to the sign-in page.
        page.goto(base + "/portal/")
        assert page.url == base + "/portal/login"
        page.fill("input[name=api_key]", key)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/portal/")
        assert page.inner_text("#bureau-name") == "四川省卫生健康委员会"

        # A webhook subscription, with 成都市 picked in the region picker.
        page.click("text=新建订阅")
        page.wait_for_selector("body[data-ready=ready]", state="attached")
        page.fill("input[name=name]", "省卫健委预警接收系统")
        page.select_option("#channel", "webhook")
        page.fill("input[name=url]", receiver.url)
        page.select_option("#pick-province", label="四川省")
        page.select_option("#pick-city", label="成都市")
        assert "武侯区" in page.inner_text("#pick-county")
        page.click("#pick-add")
        page.select_option("#pick-province", label="重庆市")
        page.select_option("#pick-city", label="重庆市")
        page.select_option("#pick-county", label="渝中区")
        page.click("#pick-add")
        picked = page.locator("#regions input[type=hidden]")
        assert [(i.get_attribute("name"), i.get_attribute("value")) for i in picked.all()] == [
            ("cities", "成都市"),
            ("counties", "渝中区"),
        ]
        page.check("input[name=types][value=specialty_alliance]")
        page.fill("input[name=min_confidence]", "0.6")
        web.screenshot("portal-form")
        page.click("#save")
        secret = page.inner_text("#secret")
        assert secret.startswith("whsec_")
        receiver.secret = secret
        page.click("text=我已保存，查看订阅")
        sub_id = page.url.rsplit("/", 1)[1]
        saved = httpx.get(
            base + f"/v1/subscriptions/{sub_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        assert saved["filters"]["cities"] == ["成都市"]
        assert saved["filters"]["counties"] == ["渝中区"]
        assert saved["filters"]["types"] == ["specialty_alliance"]

        # The test alert: signed, verified by the receiver, delivered in the log.
        page.click("#send-test")
        assert "测试消息已排队发送" in page.inner_text(".notice")
        deadline = time.monotonic() + 30
        while not receiver.verified and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.refused == []
        [payload] = receiver.verified
        assert payload["type"] == "alliance.test"
        row = page.locator("#deliveries tr[data-delivery]")
        for _ in range(100):
            if row.get_attribute("data-status") == "delivered":
                break
            time.sleep(0.2)
            page.reload()
        assert row.get_attribute("data-status") == "delivered"
        cells = row.locator("td").all_inner_texts()
        assert cells[1:5] == ["测试消息", "已送达", "1", "204"]
        assert page.locator("#redeliver-" + row.get_attribute("data-delivery")).is_visible()
        assert web.problems.all() == []
        shot = web.screenshot("portal")
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":  # the README's picture, on demand
            DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_IMAGE)

        # Another bureau's subscription, by editing the URL: not found, nothing shown.
        answer = page.goto(base + f"/portal/subscriptions/{others.json()['id']}")
        assert answer is not None and answer.status == 404
        text = page.inner_text("main")
        assert "不属于贵单位" in text and "重庆市内部系统" not in text
        assert "hooks.cq.example" not in page.content()

        # Signing out ends the session: the pages ask to sign in again.
        page.goto(base + "/portal/")
        page.click("#sign-out")
        page.wait_for_url(base + "/portal/login?msg=signed_out")
        page.goto(base + f"/portal/subscriptions/{sub_id}")
        assert page.url == base + "/portal/login"
    assert len(receiver.verified) == 1 and json.dumps(payload, ensure_ascii=False).count("测试") > 0
