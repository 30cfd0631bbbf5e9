"""The crawler-facing routes: one article, or a batch as a JSON array or NDJSON."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from services.common.bodies import UnreadableBody
from services.common.errors import RetryableError
from services.ingest.batch import (
    BatchItem,
    BatchNotJson,
    UnsupportedBatchType,
    batch_format,
    read_batch,
)
from services.ingest.config import IngestSettings
from services.ingest.domain import (
    AcceptedArticle,
    ArticleCreate,
    ArticleTooLarge,
    BatchItemResult,
    BatchResult,
)
from services.ingest.service import IngestService

RETRY_AFTER_SECONDS = "5"
_UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT
_bearer = HTTPBearer(auto_error=False)


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


def require_crawler(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    tokens: tuple[str, ...] = request.app.state.settings.tokens
    presented = credentials.credentials.encode() if credentials else b""
    # Compare against every token so the time taken does not reveal which one matched.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented, token.encode())
    if credentials is None or not matched:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid crawler token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _unavailable(exc: RetryableError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the article could not be stored durably, retry later: {exc}",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


router = APIRouter(
    prefix="/v1/articles", tags=["articles"], dependencies=[Depends(require_crawler)]
)


def _too_large(exc: ArticleTooLarge) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=str(exc))


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedArticle)
async def push_article(
    article: ArticleCreate, service: Annotated[IngestService, Depends(get_service)]
) -> AcceptedArticle:
    """Accept one article; answers only once Kafka acknowledged it."""
    try:
        return await service.accept(article)
    except ArticleTooLarge as exc:
        raise _too_large(exc) from exc
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
async def push_batch(
    request: Request, service: Annotated[IngestService, Depends(get_service)]
) -> BatchResult:
    """Accept many articles; each item is answered on its own (accepted, duplicate,
    rejected, too large, unavailable), with the status it would get pushed alone."""
    items = await _read(request)
    settings: IngestSettings = request.app.state.settings
    if len(items) > settings.max_batch_items:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"a batch holds at most {settings.max_batch_items} articles, "
            f"this one has {len(items)}",
        )
    results: list[BatchItemResult] = []
    unavailable: RetryableError | None = None
    for index, item in enumerate(items):
        checked = _check(index, item, settings.max_article_bytes, service)
        if isinstance(checked, BatchItemResult):
            results.append(checked)
        elif unavailable is not None:
            # Once the broker failed, the rest are not tried: each would wait it out again.
            results.append(_unavailable_item(index, unavailable))
        else:
            try:
                results.append(await _accept(index, checked, service))
            except RetryableError as exc:
                unavailable = exc
                results.append(_unavailable_item(index, exc))
    if unavailable is not None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={
                "message": "some articles could not be stored durably; push them again later",
                "results": [r.model_dump() for r in results],
            },
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return BatchResult(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        too_large=sum(r.status == "too_large" for r in results),
        results=results,
    )


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


def _check(
    index: int, item: BatchItem, max_bytes: int, service: IngestService
) -> ArticleCreate | BatchItemResult:
    """The item as an article, or the answer of an item refused for good before it is tried."""
    if item.error is not None:
        return BatchItemResult(index=index, status="rejected", code=item.code, error=item.error)
    if item.size > max_bytes:
        return _too_large_item(
            index, f"the article is {item.size} bytes as JSON, over the limit of {max_bytes}"
        )
    try:
        article = ArticleCreate.model_validate(item.value)
    except ValidationError as exc:
        return BatchItemResult(
            index=index, status="rejected", code=_UNPROCESSABLE, error=_brief(exc)
        )
    try:
        service.refuse_oversized(article)
    except ArticleTooLarge as exc:
        return _too_large_item(index, str(exc))
    return article


async def _accept(index: int, article: ArticleCreate, service: IngestService) -> BatchItemResult:
    accepted = await service.accept(article)
    return BatchItemResult(
        index=index,
        status="duplicate" if accepted.duplicate else "accepted",
        code=status.HTTP_202_ACCEPTED,
        article_id=accepted.article_id,
        duplicate=accepted.duplicate,
    )


def _too_large_item(index: int, error: str) -> BatchItemResult:
    return BatchItemResult(
        index=index, status="too_large", code=status.HTTP_413_CONTENT_TOO_LARGE, error=error
    )


def _unavailable_item(index: int, exc: RetryableError) -> BatchItemResult:
    return BatchItemResult(
        index=index, status="unavailable", code=status.HTTP_503_SERVICE_UNAVAILABLE, error=str(exc)
    )


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}" for err in exc.errors()
    )
