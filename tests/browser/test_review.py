"""Analysts review in the browser: the registry runs as its own process on the session's
Kafka broker, over a database seeded with three alliances; an analyst signs in with the
key the operator issued, walks the queue with j/k, confirms one with c, rejects one with r
and a note, opens the confirmed one with o and corrects a member through the panel's edit
form. The registry's JSON then shows the corrected member, the history both actions under
the analyst's name, and no page logged an error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.service import RegistryService
from tests.browser.conftest import BrowserPage
from tests.unit.registry.test_review_pages import seed
from tools.harness import OPERATOR_TOKEN, ServiceProcess, Stack
from tools.localkafka import LocalKafka

#: The page's script marks its state on <body>; the pages forbid eval (their CSP), so
#: the test waits on selectors, never on evaluated strings.
READY = "body[data-review=ready]"
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "review.png"


def wait(web: BrowserPage, selector: str) -> None:
    web.page.wait_for_selector(selector, state="attached")


@pytest.fixture
def registry(kafka: LocalKafka, kafka_topics: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The registry alone, a real process on the session's broker, its database seeded."""
    stack = Stack(tmp_path, kafka=kafka, topic_prefix=kafka_topics)
    service = stack["registry"]
    engine = make_engine(service.env["REGISTRY_DATABASE_URL"])
    try:
        upgrade(engine)
        seed(RegistryService(engine))
    finally:
        engine.dispose()
    service.start(stack.workdir)
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def ids_by_lead(base: str) -> dict[str, str]:
    items = httpx.get(base + "/v1/alliances", timeout=10).json()["items"]
    return {a["lead"][0]["name"]: a["id"] for a in items}


def current(web: BrowserPage) -> str:
    wait(web, READY)
    return str(web.page.get_attribute("#queue li.queue-item.current", "data-id"))


def test_an_analyst_reviews_in_the_browser(registry: ServiceProcess, web: BrowserPage) -> None:
    base = registry.url
    created = httpx.post(
        base + "/v1/analysts",
        json={"name": "张分析"},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    ids = ids_by_lead(base)
    guilin, xian, luzhou = (
        ids["桂林市中西医结合医院"],
        ids["西安市红会医院"],
        ids["西南医科大学附属医院"],
    )
    page = web.page

    # A stranger is sent to the sign-in page; the key opens the queue.
    page.goto(base + "/review/")
    assert page.url == base + "/review/login"
    page.fill("input[name=api_key]", key)
    page.click("#sign-in")
    page.wait_for_url(base + "/review/")
    assert page.inner_text("#analyst-name") == "张分析"

    # The least certain first; the current item's evidence beside the list.
    assert current(web) == guilin
    assert "托管" in page.inner_text("#current-sources")
    assert page.locator("#current-sources mark.evidence").count() == 1
    page.keyboard.press("j")
    assert current(web) == xian
    assert page.locator("#current-sources b.name", has_text="西安市红会医院").count() == 1
    page.keyboard.press("j")
    assert current(web) == luzhou
    page.keyboard.press("k")
    assert current(web) == xian
    shot = web.screenshot("review-queue")
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":  # the README's picture, on demand
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGE)

    # e opens the edit form prefilled, Esc closes it.
    page.keyboard.press("e")
    assert page.is_visible("#review-edit-form")
    assert page.input_value("#edit-members") == "广汉市第二人民医院"
    page.keyboard.press("Escape")
    assert page.is_hidden("#review-edit-form")

    # c confirms the current one and moves on to the next unreviewed.
    page.keyboard.press("c")
    wait(web, f"body[data-current='{luzhou}']")
    assert current(web) == luzhou
    assert page.get_attribute(f"li.queue-item[data-id='{xian}']", "data-status") == "confirmed"
    assert page.inner_text(f"li.queue-item[data-id='{xian}'] .qi-status") == "已确认"

    # r asks for a note; Enter rejects.
    page.keyboard.press("r")
    assert page.is_visible("#review-reject-form")
    page.keyboard.type("转载旧闻，并非新建医联体")
    page.keyboard.press("Enter")
    wait(web, f"li.queue-item[data-id='{luzhou}'][data-status=rejected]")

    # Back to the confirmed one, opened with o: its page shows the panel beside the evidence.
    page.keyboard.press("k")
    assert current(web) == xian
    page.keyboard.press("o")
    page.wait_for_url(base + f"/alliances/{xian}")
    wait(web, READY)
    assert page.is_visible("#review-panel")
    assert page.inner_text("#review-status") == "已确认"
    assert page.inner_text("#reviewer") == "张分析"
    page.click("#review-edit-open")
    page.fill("#edit-members", "广汉市第二人民医院\n德阳市人民医院")
    page.fill("#edit-note", "原文第二段还提到德阳市人民医院")
    page.click("#review-save")
    wait(web, "body[data-last-action=correct]")
    wait(web, READY)
    assert page.inner_text("#review-status") == "已更正"
    assert "德阳市人民医院" in page.inner_text("#facts-panel"), "the facts are redrawn"
    history = page.locator("#review-history li.history-item")
    assert history.count() == 2
    assert [history.nth(i).get_attribute("data-action") for i in range(2)] == [
        "correct",
        "confirm",
    ]
    assert all("张分析" in text for text in history.all_inner_texts())
    assert "德阳市人民医院" in history.nth(0).inner_text()
    web.screenshot("review-panel")
    assert web.problems.all() == []

    # A refusal shows in the panel with its reason, and nothing changes.
    page.click("#review-edit-open")
    page.fill("#edit-date", "2018-13-01")
    page.click("#review-save")
    wait(web, "body[data-review=error]")
    error = page.inner_text("#review-error")
    assert page.is_visible("#review-error") and "HTTP 422" in error, error
    assert page.is_visible("#review-edit-form"), "the form stays open to fix it"
    # The browser reports the 422 itself (the network, the console): the only problems.
    assert [p for p in web.problems.all() if "422" not in p] == []
    web.problems.failed_requests.clear()
    web.problems.console_errors.clear()
    page.click("#review-edit-form button.cancel")
    assert page.is_hidden("#review-edit-form")

    # The registry's JSON says the same.
    alliance = httpx.get(base + f"/v1/alliances/{xian}", timeout=10).json()
    assert [m["name"] for m in alliance["members"]] == ["广汉市第二人民医院", "德阳市人民医院"]
    assert alliance["review"]["status"] == "corrected"
    assert alliance["review"]["reviewed_by_name"] == "张分析"
    assert "members" in alliance["review"]["locked_fields"]
    auth = {"Authorization": f"Bearer {key}"}
    trail = httpx.get(base + f"/v1/alliances/{xian}/history", headers=auth, timeout=10).json()
    assert [(a["action"], a["analyst_name"]) for a in trail] == [
        ("confirm", "张分析"),
        ("correct", "张分析"),
    ]
    rejected = httpx.get(base + f"/v1/alliances/{luzhou}/history", headers=auth, timeout=10)
    assert [(a["action"], a["note"]) for a in rejected.json()] == [
        ("reject", "转载旧闻，并非新建医联体")
    ]

    # Signing out: the panel is gone from the alliance's page.
    page.click("#review-link")  # signed in already: straight back to the page
    page.wait_for_url(base + f"/alliances/{xian}")
    wait(web, READY)
    page.goto(base + "/review/")
    page.click("#sign-out")
    page.wait_for_url(base + "/review/login?msg=signed_out")
    page.goto(base + f"/alliances/{xian}")
    wait(web, "body[data-review=none]")
    assert page.is_hidden("#review-panel")
    assert web.problems.all() == []
