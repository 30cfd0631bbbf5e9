"""What every service's HTTP side has: health, readiness, metrics, request metrics, a cap
on request bodies, and error answers that say what to change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.answers import install_error_answers
from services.common.docs import add_docs
from services.common.limits import BodyLimit, BodySizeLimit
from services.common.request_metrics import RequestMetrics
from services.common.request_tracing import RequestTracing

ReadinessCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def create_app(
    *,
    title: str,
    readiness: Mapping[str, ReadinessCheck],
    body_limit: BodyLimit,
    lifespan: Lifespan | None = None,
    description: str = "",
    version: str = "0.1.0",
) -> FastAPI:
    """``body_limit(path)`` is the byte limit of a request body (settings.body_limit)."""
    # /docs is served offline by add_docs; /redoc would load its script from a CDN.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Requests are traced by RequestTracing and counted by RequestMetrics; FastAPI's
        # own telemetry would make a second server span (and metrics, logs) of each.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    add_docs(app)
    # The last added runs first: metrics see every answer, the 413 of the cap included,
    # and the request's span covers them all.
    app.add_middleware(BodySizeLimit, limit_for=body_limit)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestTracing)
    install_error_answers(app)

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
    where an id is in the path, 400 for a bad pagination cursor; where a body is taken,
    400 (not readable), 413 (over the size limit) and 415 (not sent as JSON); a 422 may
    also carry a plain-text ``detail`` (a domain rule, such as ``since`` after ``until``)."""
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
                if "requestBody" in operation:
                    responses.setdefault(
                        "400", _error("the body cannot be read: not UTF-8, or nested too deeply")
                    )
                    responses.setdefault("413", _error("the body is over the size limit"))
                    responses.setdefault("415", _error("the body is not sent as JSON"))
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
