"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the dashboard.

Playwright never downloads a browser here: it launches the system's Chromium by path. A
page fixture records every console error, uncaught exception and failed request, so a test
can assert that the page ran cleanly. Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.e2e.conftest import pipeline  # noqa: F401 - the four real services, as a fixture
from tools.browser import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"

#: The page is ready once the map, the timeline and the table have all been drawn.
READY = (
    "() => document.body.dataset.ready === 'ready' && "
    "['ready', 'unavailable'].includes(document.body.dataset.map) && "
    "['ready', 'unavailable'].includes(document.body.dataset.timeline) && "
    "document.body.dataset.table === 'ready'"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched by Playwright by path."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run make setup"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageProblems:
    """What went wrong in the page, as a person with the developer tools open would see."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.console_errors, *self.page_errors, *self.failed_requests]


@dataclass
class BrowserPage:
    page: Page
    problems: PageProblems

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def wait_ready(self, timeout: float = 30_000) -> None:
        self.page.wait_for_function(READY, timeout=timeout)


@pytest.fixture
def web() -> Iterator[BrowserPage]:
    """A fresh browser page. Function-scoped, and to be requested after the fixtures that
    use asyncio (such as ``pipeline``): Playwright's sync API keeps its own event loop
    current while it runs, so it must start after them and stop before they end."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        try:
            yield _watched(context.new_page())
        finally:
            context.close()


def _watched(page: Page) -> BrowserPage:
    problems = PageProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console_errors.append(f"console: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(f"page error: {error}"))
    page.on(
        "requestfailed",
        lambda request: problems.failed_requests.append(
            f"request failed: {request.url} {request.failure}"
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.failed_requests.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    return BrowserPage(page, problems)
