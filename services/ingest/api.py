"""The crawler-facing routes: one article, or a batch as a JSON array or NDJSON."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from services.common.kafka.publisher import BrokerUnavailable
from services.ingest.domain import (
    AcceptedArticle,
    ArticleCreate,
    BatchItemResult,
    BatchResult,
)
from services.ingest.service import IngestService

RETRY_AFTER_SECONDS = "5"
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


def _unavailable(exc: BrokerUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the article could not be stored durably, retry later: {exc}",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


router = APIRouter(
    prefix="/v1/articles", tags=["articles"], dependencies=[Depends(require_crawler)]
)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedArticle)
async def push_article(
    article: ArticleCreate, service: Annotated[IngestService, Depends(get_service)]
) -> AcceptedArticle:
    """Accept one article; answers only once Kafka acknowledged it."""
    try:
        return await service.accept(article)
    except BrokerUnavailable as exc:
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
    """Accept many articles; each item is answered on its own (accepted, duplicate, rejected)."""
    items = _parse_batch(await request.body(), request.headers.get("content-type", ""))
    limit: int = request.app.state.settings.max_batch_items
    if len(items) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"a batch holds at most {limit} articles, this one has {len(items)}",
        )
    results: list[BatchItemResult] = []
    broker_error: BrokerUnavailable | None = None
    for index, item in enumerate(items):
        try:
            article = ArticleCreate.model_validate(item)
        except ValidationError as exc:
            results.append(BatchItemResult(index=index, status="rejected", error=_brief(exc)))
            continue
        if broker_error is not None:
            results.append(
                BatchItemResult(index=index, status="unavailable", error=str(broker_error))
            )
            continue
        try:
            accepted = await service.accept(article)
        except BrokerUnavailable as exc:
            broker_error = exc
            results.append(BatchItemResult(index=index, status="unavailable", error=str(exc)))
            continue
        results.append(
            BatchItemResult(
                index=index,
                status="duplicate" if accepted.duplicate else "accepted",
                article_id=accepted.article_id,
                duplicate=accepted.duplicate,
            )
        )
    if broker_error is not None:
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
        results=results,
    )


def _parse_batch(raw: bytes, content_type: str) -> list[Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, detail=f"the batch is not UTF-8: {exc}") from exc
    if "ndjson" in content_type or "jsonl" in content_type:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise HTTPException(422, detail=f"line {number} is not JSON: {exc.msg}") from exc
        return items
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(
            422, detail=f"the batch is not JSON ({exc.msg}); send a JSON array or NDJSON"
        ) from exc
    if not isinstance(parsed, list):
        raise HTTPException(422, detail="a JSON batch must be an array of articles")
    return parsed


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}" for err in exc.errors()
    )
