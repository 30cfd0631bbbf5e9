"""What every service's HTTP side has: health, readiness, metrics, request metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from services.common.docs import add_docs

ReadinessCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def create_app(
    *,
    title: str,
    readiness: Mapping[str, ReadinessCheck],
    lifespan: Lifespan | None = None,
    description: str = "",
    version: str = "0.1.0",
) -> FastAPI:
    # /docs is served offline by add_docs; /redoc would load its script from a CDN.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    add_docs(app)

    @app.middleware("http")
    async def record_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, not the raw path, so ids do not explode the label set.
        name = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, name, str(response.status_code)).inc()
        HTTP_SECONDS.labels(request.method, name).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # As FastAPI's own answer, but ASCII-escaped: the errors echo the input, and input
        # that is not valid Unicode (a lone surrogate) must still give a 422, not a 500.
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive and serving."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Ready only while every dependency (Kafka, the database) answers."""
        names = list(readiness)
        results = await asyncio.gather(*(_safe(readiness[n]) for n in names))
        checks = dict(zip(names, results, strict=True))
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    document_errors(app)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


_ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "description": "what was wrong, for a person"}},
    "required": ["detail"],
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document_errors(app: FastAPI) -> None:
    """Add to the OpenAPI the error answers routes give by their shape, so that the schema
    tells clients every status they can get: 401 where a bearer token is required, 404
    where an id is in the path, 400 for a bad pagination cursor; a 422 may also carry a
    plain-text ``detail`` (a domain rule, such as ``since`` after ``until``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                parameters = {p.get("name") for p in operation.get("parameters", [])}
                if operation.get("security"):
                    responses.setdefault("401", _error("no valid bearer token"))
                if "{" in path:
                    responses.setdefault("404", _error("no such resource (or not yours)"))
                if "cursor" in parameters:
                    responses.setdefault("400", _error("the cursor is not one this API issued"))
                if "422" in responses:
                    validation = responses["422"]["content"]["application/json"]
                    validation["schema"] = {
                        "anyOf": [validation["schema"], {"$ref": "#/components/schemas/Error"}]
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _safe(check: ReadinessCheck) -> bool:
    try:
        return await check()
    except Exception:  # a failing probe means "not ready", which the answer reports
        return False
