"""/v1/alliances: the deduplicated alliances, filtered and keyset-paginated; CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import RedirectResponse, StreamingResponse

from services.common.labels import type_label
from services.registry.adapters.queries import AllianceView, CursorError
from services.registry.entrypoints.api.deps import Filters, PageBase, Queries
from services.registry.entrypoints.api.schemas import AlliancePage, AlliancePublic

router = APIRouter(prefix="/v1", tags=["alliances"])

#: The export's columns, headed in Chinese as the dashboard words them; the type is given
#: twice, as people read it (专科联盟) and as its code for machines (specialty_alliance).
CSV_COLUMNS = (
    "编号",
    "类型",
    "类型代码",
    "专科",
    "成立日期",
    "牵头单位",
    "成员单位",
    "涉及地区",
    "跨省",
    "置信度",
    "首次发现",
    "最近更新",
    "来源数",
    "来源链接",
)


@router.get("/alliances", response_model=AlliancePage)
def list_alliances(
    queries: Queries,
    filters: Filters,
    page_base: PageBase,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AlliancePage:
    """Alliances, newest first; follow `next_cursor` for the next page."""
    try:
        views, next_cursor = queries.list_alliances(filters, limit, cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    return AlliancePage(
        items=[AlliancePublic.of(v, page_base) for v in views], next_cursor=next_cursor
    )


def _csv_row(view: AllianceView) -> list[str]:
    a = view.alliance
    return [
        a.id,
        type_label(a.type),
        a.type.value,
        a.specialty or "",
        a.date or "",
        ";".join(i.name for i in a.lead),
        ";".join(i.name for i in a.members),
        ";".join(a.provinces),
        "是" if a.cross_province else "否",
        f"{a.confidence:.4f}",
        a.first_seen.isoformat(),
        a.last_seen.isoformat(),
        str(len(a.sources)),
        " ".join(s.url for s in a.sources if s.url),
    ]


@router.get(
    "/alliances.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(queries: Queries, filters: Filters) -> StreamingResponse:
    """Every alliance matching the filters, as CSV (UTF-8 with BOM, for spreadsheets),
    headed in Chinese; the type as its Chinese name (类型) and its code (类型代码)."""

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_COLUMNS)
        for view in queries.iter_alliances(filters):
            writer.writerow(_csv_row(view))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="alliances.csv"'},
    )


@router.get(
    "/alliances/{alliance_id}",
    response_model=AlliancePublic,
    responses={308: {"description": "merged into another alliance: its address"}},
)
def get_alliance(
    queries: Queries,
    page_base: PageBase,
    alliance_id: Annotated[str, Path(max_length=40)],
) -> AlliancePublic | RedirectResponse:
    """One alliance, rejected ones too (with their review block); one an analyst merged
    into another answers 308 to the survivor."""
    view = queries.get_alliance(alliance_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alliance {alliance_id}")
    if view.merged_into:
        return RedirectResponse(
            f"/v1/alliances/{view.merged_into}", status.HTTP_308_PERMANENT_REDIRECT
        )
    return AlliancePublic.of(view, page_base)
