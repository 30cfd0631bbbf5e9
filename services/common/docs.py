"""Each service's ``/docs``: Swagger UI served by the service itself, so it works offline.

FastAPI's own page loads Swagger UI from a public CDN and is blank without the internet.
Here the files come from the ``swagger-ui-dist`` npm package that `make setup` installs
(pinned by package-lock.json, as the dashboard's ECharts is), under ``/docs/assets/``;
when the package is missing the page says so and links the raw OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_UI = ROOT / "node_modules" / "swagger-ui-dist"
ASSETS_PATH = "/docs/assets"

#: The files the page loads, and the source maps a browser's developer tools ask for.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js.map": "application/json",
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui.css.map": "application/json",
    "favicon-32x32.png": "image/png",
}

_MISSING = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
<p>Swagger UI is not installed (the swagger-ui-dist npm package): run <code>make setup</code>.
The OpenAPI document itself is at <a href="{openapi}">{openapi}</a>.</p>
</body></html>
"""


def add_docs(app: FastAPI, swagger_ui: Path | None = None) -> None:
    """Serve ``/docs`` and its assets from ``swagger_ui`` (the installed package)."""
    directory = swagger_ui or SWAGGER_UI
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} — API"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not (directory / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(
                _MISSING.format(title=title, openapi=openapi_url),
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            # No validator badge: it is an image fetched from swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(f"{ASSETS_PATH}/{{name}}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        path = directory / name
        if name not in ASSETS or not path.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no docs asset {name}")
        return FileResponse(
            path, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
        )
