"""Every service's /docs works offline: the page references only the service's own URLs,
and each of them answers (Swagger UI from the swagger-ui-dist package, the OpenAPI)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.common.docs import ASSETS_PATH, add_docs
from services.common.http import create_app
from services.extract.bootstrap import build_app as build_extract
from services.extract.config import ExtractSettings
from services.ingest.bootstrap import build_app as build_ingest
from services.ingest.config import IngestSettings
from services.notify.adapters.sealing import new_key
from services.notify.bootstrap import build_app as build_notify
from services.notify.config import NotifySettings
from services.registry.bootstrap import build_app as build_registry
from services.registry.config import RegistrySettings

TOKEN = "Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA"
_REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")


def ingest(tmp: Path) -> FastAPI:
    return build_ingest(
        IngestSettings(  # type: ignore[call-arg]
            _env_file=None, INGEST_API_TOKENS=TOKEN, INGEST_DATABASE_URL=f"sqlite:///{tmp}/i.db"
        )
    )


def registry(tmp: Path) -> FastAPI:
    return build_registry(
        RegistrySettings(_env_file=None, REGISTRY_DATABASE_URL=f"sqlite:///{tmp}/r.db")  # type: ignore[call-arg]
    )


def notify(tmp: Path) -> FastAPI:
    return build_notify(
        NotifySettings(  # type: ignore[call-arg]
            _env_file=None,
            NOTIFY_OPERATOR_TOKEN=TOKEN,
            NOTIFY_SECRETS_KEY=new_key(),
            NOTIFY_DATABASE_URL=f"sqlite:///{tmp}/n.db",
        )
    )


def extract(tmp: Path) -> FastAPI:
    return build_extract(ExtractSettings(_env_file=None))  # type: ignore[call-arg]


SERVICES: dict[str, Callable[[Path], FastAPI]] = {
    "ingest": ingest,
    "registry": registry,
    "notify": notify,
    "extract": extract,
}


def references(page: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(page)]


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_reference_only_local_assets_and_they_are_served(
    service: str, tmp_path: Path
) -> None:
    app = SERVICES[service](tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        assert "://" not in page.text, "nothing from another host (no CDN, no validator)"
        found = references(page.text)
        assert {f"{ASSETS_PATH}/swagger-ui-bundle.js", "/openapi.json"} <= set(found)
        for url in found:
            assert url.startswith("/") and not url.startswith("//"), url
            answer = await client.get(url)
            assert answer.status_code == 200, url
            assert len(answer.content) > 100, url
        bundle = await client.get(f"{ASSETS_PATH}/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in bundle.text
        assert bundle.headers["content-type"].startswith("text/javascript")
        assert (await client.get("/redoc")).status_code == 404, "no CDN-backed /redoc"


async def test_only_the_page_assets_are_served_from_the_package(tmp_path: Path) -> None:
    app = create_app(title="t", readiness={}, body_limit=lambda path: 1024)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        for name in ("index.html", "swagger-initializer.js", "package.json", "..%2F..%2FLICENSE"):
            assert (await client.get(f"{ASSETS_PATH}/{name}")).status_code == 404, name


async def test_the_page_says_how_to_install_swagger_ui_when_it_is_missing(tmp_path: Path) -> None:
    app = FastAPI(title="t", docs_url=None, redoc_url=None)
    add_docs(app, swagger_ui=tmp_path / "not-installed")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        page = await client.get("/docs")
        assert page.status_code == 503
        assert "make setup" in page.text and 'href="/openapi.json"' in page.text
        assert (await client.get(f"{ASSETS_PATH}/swagger-ui-bundle.js")).status_code == 404


async def test_the_dashboards_api_link_opens_the_offline_docs(tmp_path: Path) -> None:
    app = registry(tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        dashboard = await client.get("/")
        assert '<a href="/docs">API 文档</a>' in dashboard.text
        docs = await client.get("/docs")
        assert docs.status_code == 200 and f"{ASSETS_PATH}/swagger-ui.css" in docs.text
