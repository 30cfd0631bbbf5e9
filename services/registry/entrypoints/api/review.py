"""The analysts' routes (``Authorization: Bearer ak_…``): the review queue, the actions on
an alliance (confirm / correct / reject, merge, split), its audit trail, and the reviewed
articles as labelled data for the extraction benchmark.

Failures come in the house's three kinds: 4xx with a reason (422 an action that cannot be
done as asked, 404 no such alliance, 409 one merged away, naming the survivor), 503 while
the database is away, and anything else is a bug that is not swallowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import DBAPIError

from services.common.contracts import EventType
from services.registry.adapters.queries import CursorError
from services.registry.adapters.review_queries import as_prediction, review_export
from services.registry.domain.review import ReviewConflict, ReviewError, UnknownAlliance
from services.registry.entrypoints.api.analyst_auth import CurrentAnalyst, current_analyst
from services.registry.entrypoints.api.deps import (
    PageBase,
    Queries,
    Repository,
    refuse_unknown_places,
)
from services.registry.entrypoints.api.schemas import (
    AlliancePage,
    AlliancePublic,
    MergeCreate,
    ReviewActionPublic,
    ReviewCreate,
    SplitCreate,
)
from services.registry.metrics import REVIEW_ACTIONS
from services.registry.review_service import ReviewOutcome

router = APIRouter(
    prefix="/v1", tags=["review (analysts)"], dependencies=[Depends(current_analyst)]
)

AllianceId = Annotated[str, Path(max_length=40)]
T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "no such alliance"},
    409: {"description": "the alliance was merged into another (named in the detail)"},
    503: {"description": "the registry database is unavailable"},
}


def run_review_action(action: Callable[[], T]) -> T:
    """Run a write, turning the domain's refusals into 4xx answers with their reason."""
    try:
        return action()
    except UnknownAlliance as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc.args[0])) from exc
    except ReviewConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except ReviewError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except DBAPIError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the registry database is unavailable"
        ) from exc


def _answer(queries: Queries, page_base: str, outcome: ReviewOutcome) -> AlliancePublic:
    view = queries.get_alliance(outcome.alliance_id)
    assert view is not None  # just committed
    return AlliancePublic.of(view, page_base)


@router.get("/review/queue", response_model=AlliancePage)
def review_queue(
    queries: Queries,
    page_base: PageBase,
    province: Annotated[str | None, Query(max_length=40)] = None,
    type: Annotated[EventType | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AlliancePage:
    """Unreviewed alliances, the least certain first (then the newest, then by id)."""
    refuse_unknown_places(province=province)
    try:
        views, next_cursor = queries.review_queue(limit, cursor, province=province, type=type)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    return AlliancePage(
        items=[AlliancePublic.of(v, page_base) for v in views], next_cursor=next_cursor
    )


@router.post("/alliances/{alliance_id}/review", response_model=AlliancePublic, responses=_ERRORS)
def review_alliance(
    alliance_id: AllianceId,
    body: ReviewCreate,
    analyst: CurrentAnalyst,
    repository: Repository,
    queries: Queries,
    page_base: PageBase,
) -> AlliancePublic:
    """`confirm` it as it is; `correct` some of its facts (`changes`: lead, members, type,
    specialty, date, provinces; each locked against later extractions); `reject` it (a
    `note` saying why is required: it leaves lists, exports, stats and the dashboard, and
    bureaus get a retraction). Answers with the alliance after the action."""
    outcome = run_review_action(
        lambda: repository.review(
            alliance_id,
            analyst,
            body.action,
            datetime.now(UTC),
            changes=body.given_changes(),
            note=body.note,
        )
    )
    REVIEW_ACTIONS.labels(body.action).inc()
    return _answer(queries, page_base, outcome)


@router.post("/alliances/{alliance_id}/merge", response_model=AlliancePublic, responses=_ERRORS)
def merge_alliances(
    alliance_id: AllianceId,
    body: MergeCreate,
    analyst: CurrentAnalyst,
    repository: Repository,
    queries: Queries,
    page_base: PageBase,
) -> AlliancePublic:
    """Absorb `other_id` into this alliance, which keeps its locked fields and gains the
    other's sources and institutions; the other's id answers 308 to this one from now on."""
    outcome = run_review_action(
        lambda: repository.merge(
            alliance_id, body.other_id, analyst, datetime.now(UTC), note=body.note
        )
    )
    REVIEW_ACTIONS.labels("merge").inc()
    return _answer(queries, page_base, outcome)


@router.post(
    "/alliances/{alliance_id}/split",
    response_model=AlliancePublic,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def split_alliance(
    alliance_id: AllianceId,
    body: SplitCreate,
    analyst: CurrentAnalyst,
    repository: Repository,
    queries: Queries,
    page_base: PageBase,
) -> AlliancePublic:
    """Move what the articles `source_ids` report out into a new alliance (the answer)."""
    outcome = run_review_action(
        lambda: repository.split(
            alliance_id, list(body.source_ids), analyst, datetime.now(UTC), note=body.note
        )
    )
    REVIEW_ACTIONS.labels("split").inc()
    return _answer(queries, page_base, outcome)


@router.get(
    "/alliances/{alliance_id}/history",
    response_model=list[ReviewActionPublic],
    responses={404: {"description": "no such alliance"}},
)
def alliance_history(alliance_id: AllianceId, queries: Queries) -> list[ReviewActionPublic]:
    """Every review action on the alliance, oldest first, with the alliance before and
    after each."""
    actions = queries.history(alliance_id)
    if actions is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alliance {alliance_id}")
    return [
        ReviewActionPublic(
            id=a.id or 0,
            at=a.at,
            analyst_id=a.analyst_id,
            analyst_name=a.analyst_name,
            action=a.action,
            before=json.loads(a.before) if a.before else None,
            after=json.loads(a.after) if a.after else None,
            note=a.note,
        )
        for a in actions
    ]


@router.get(
    "/reviews/export.jsonl",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_reviews(
    queries: Queries,
    format: Annotated[
        Literal["gold", "prediction"],
        Query(
            description="`gold` (is_alliance_event) or `prediction` (relevant, as the "
            "extraction CLI writes): the same rows, for scoring the export against itself."
        ),
    ] = "gold",
) -> StreamingResponse:
    """Each source article of every reviewed alliance as one line of the shared
    evaluation's gold format, its events the reviewed alliances it reports that stand."""

    def lines() -> Iterator[bytes]:
        for row in review_export(queries):
            out = as_prediction(row) if format == "prediction" else row
            yield (json.dumps(out, ensure_ascii=False) + "\n").encode("utf-8")

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="reviews.jsonl"'},
    )
