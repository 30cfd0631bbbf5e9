"""/v1/articles: which articles the registry took in, with which extraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from services.registry.adapters.queries import CursorError
from services.registry.adapters.tables import ArticleRow
from services.registry.entrypoints.api.deps import Queries
from services.registry.entrypoints.api.schemas import ArticlePage, ArticlePublic

router = APIRouter(prefix="/v1/articles", tags=["articles"])


def _public(row: ArticleRow, alliance_ids: list[str] | None = None) -> ArticlePublic:
    return ArticlePublic(
        article_id=row.article_id,
        extractor_version=row.extractor_version,
        relevant=row.relevant,
        event_count=row.event_count,
        url=row.url,
        title=row.title,
        published_at=row.published_at,
        alliance_ids=alliance_ids or [],
    )


@router.get("", response_model=ArticlePage)
def list_articles(
    queries: Queries,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> ArticlePage:
    try:
        rows, next_cursor = queries.list_articles(limit, cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    return ArticlePage(items=[_public(r, ids) for r, ids in rows], next_cursor=next_cursor)


@router.get("/{article_id}", response_model=ArticlePublic)
def get_article(
    queries: Queries, article_id: Annotated[str, Path(max_length=128)]
) -> ArticlePublic:
    found = queries.get_article(article_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no article {article_id}")
    row, alliance_ids = found
    return _public(row, alliance_ids)
