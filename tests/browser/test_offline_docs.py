"""The dashboard's "API 文档" link opens Swagger UI with no network but loopback: every
request the browser makes to another host is refused and counted, and the operations of
the registry's API are drawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Route

from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService
from tests.browser.conftest import BrowserPage
from tools.localkafka import free_port


@pytest.fixture
def registry_api(tmp_path: Path) -> Iterator[str]:
    """The registry's query API and dashboard, served on a loopback port."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = RegistrySettings(_env_file=None, REGISTRY_DATABASE_URL=url)  # type: ignore[call-arg]
    app = build_api(settings, RegistryService(engine))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_the_api_link_opens_swagger_ui_offline(registry_api: str, web: BrowserPage) -> None:
    elsewhere: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page = web.page
    page.route("**/*", loopback_only)
    page.goto(registry_api + "/")
    page.click("text=API 文档")
    page.wait_for_url("**/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    web.screenshot("docs-offline")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/alliances" in paths and "/readyz" in paths
    assert (
        page.locator(".swagger-ui .info .title").inner_text().startswith("Alliance Watch registry")
    )
    assert elsewhere == [], "the page asked for nothing beyond loopback"
    assert [p for p in web.problems.all() if "/docs" in p] == []
