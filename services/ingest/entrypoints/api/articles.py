"""The crawler-facing routes: one article, or a batch as a JSON array or NDJSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from services.common.bodies import UnreadableBody
from services.common.errors import RetryableError
from services.ingest.domain.articles import AcceptedArticle, ArticleCreate, ArticleTooLarge
from services.ingest.domain.batches import BatchItem, BatchResult
from services.ingest.entrypoints.api.batch_body import (
    BatchNotJson,
    UnsupportedBatchType,
    batch_format,
    read_batch,
)
from services.ingest.entrypoints.api.deps import Service, Settings, require_crawler
from services.ingest.service import BatchPartlyUnavailable

RETRY_AFTER_SECONDS = "5"

router = APIRouter(
    prefix="/v1/articles", tags=["articles"], dependencies=[Depends(require_crawler)]
)


def _unavailable(exc: RetryableError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the article could not be stored durably, retry later: {exc}",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedArticle)
async def push_article(article: ArticleCreate, service: Service) -> AcceptedArticle:
    """Accept one article; answers only once Kafka acknowledged it."""
    try:
        return await service.accept(article)
    except ArticleTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=str(exc)) from exc
    except RetryableError as exc:
        raise _unavailable(exc) from exc


_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ArticleCreate"}}
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchResult,
    openapi_extra=_BATCH_BODY,
)
async def push_batch(request: Request, service: Service, settings: Settings) -> BatchResult:
    """Accept many articles; each item is answered on its own (accepted, duplicate,
    rejected, too large, unavailable), with the status it would get pushed alone."""
    items = await _read(request)
    if len(items) > settings.max_batch_items:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"a batch holds at most {settings.max_batch_items} articles, "
            f"this one has {len(items)}",
        )
    try:
        return await service.accept_batch(items, settings.max_article_bytes)
    except BatchPartlyUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"message": str(exc), "results": [r.model_dump() for r in exc.results]},
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from exc


async def _read(request: Request) -> list[BatchItem]:
    try:
        form = batch_format(request.headers.get("content-type"))
    except UnsupportedBatchType as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=str(exc)) from exc
    try:
        return read_batch(await request.body(), form)
    except UnreadableBody as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    except BatchNotJson as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
