"""A batch as ingest answers it: each item on its own, with the status it would get pushed
alone, so a crawler re-pushes only what failed for now (503) and drops what never will
(400, 413, 422)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel


@dataclass(frozen=True)
class BatchItem:
    """One article of a batch as read: its JSON value and size, or why it cannot be read.
    ``code`` is the status a lone push of it would get: 400 unreadable, 422 not JSON."""

    value: Any = None
    size: int = 0
    error: str | None = None
    code: int = 0


class BatchItemResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected", "too_large", "unavailable"]
    #: The HTTP status this article would get pushed alone: 202 accepted or duplicate,
    #: 400 / 422 rejected and 413 too large (permanent), 503 unavailable (retry later).
    code: int
    article_id: str | None = None
    duplicate: bool = False
    error: str | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    too_large: int = 0
    results: list[BatchItemResult]

    @classmethod
    def of(cls, results: list[BatchItemResult]) -> BatchResult:
        return cls(
            accepted=sum(r.status == "accepted" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            rejected=sum(r.status == "rejected" for r in results),
            too_large=sum(r.status == "too_large" for r in results),
            results=results,
        )


def rejected(index: int, code: int, error: str | None) -> BatchItemResult:
    return BatchItemResult(index=index, status="rejected", code=code, error=error)


def too_large(index: int, error: str) -> BatchItemResult:
    return BatchItemResult(
        index=index, status="too_large", code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE.value, error=error
    )


def unavailable(index: int, error: str) -> BatchItemResult:
    return BatchItemResult(
        index=index, status="unavailable", code=HTTPStatus.SERVICE_UNAVAILABLE.value, error=error
    )


def accepted(index: int, article_id: str, duplicate: bool) -> BatchItemResult:
    return BatchItemResult(
        index=index,
        status="duplicate" if duplicate else "accepted",
        code=HTTPStatus.ACCEPTED.value,
        article_id=article_id,
        duplicate=duplicate,
    )
