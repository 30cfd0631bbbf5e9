"""The reviewed articles as labelled data: what ``GET /v1/reviews/export.jsonl`` streams,
one line per source article of every reviewed alliance, in the gold format of the shared
evaluation (``../shared/eval/*.gold.jsonl``). Read-only, over the read model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from services.registry.adapters.queries import AllianceView, RegistryQueries, alliance_views
from services.registry.adapters.tables import AllianceRow, ArticleRow, ReportRow
from services.registry.domain.review import REVIEWED, ReviewStatus

_REVIEWED = [s.value for s in REVIEWED]


def _event(view: AllianceView, article_id: str) -> dict[str, Any]:
    a = view.alliance
    evidence = next((s.evidence for s in a.sources if s.article_id == article_id), "")
    return {
        "type": a.type.value,
        "specialty": a.specialty,
        "lead": [i.name for i in a.lead],
        "members": [i.name for i in a.members],
        "date": a.date,
        "provinces": list(a.provinces),
        "cross_province": a.cross_province,
        "evidence": evidence,
    }


def review_export(queries: RegistryQueries, batch: int = 200) -> Iterator[dict[str, Any]]:
    """One gold row per source article of a reviewed alliance (confirmed, corrected or
    rejected; not merged away), by article id. Its events are the reviewed alliances the
    article reports that stand (a rejected one is a negative: the article does not report
    it), so an article whose only alliance was rejected is ``is_alliance_event: false``.
    Alliances the article reports that nobody reviewed yet are left out of its events."""
    reviewed = select(AllianceRow.id).where(
        col(AllianceRow.merged_into).is_(None), col(AllianceRow.review_status).in_(_REVIEWED)
    )
    with Session(queries.engine) as session:
        article_ids = list(
            session.exec(
                select(ReportRow.article_id)
                .where(col(ReportRow.alliance_id).in_(reviewed))
                .distinct()
                .order_by(col(ReportRow.article_id))
            ).all()
        )
    for start in range(0, len(article_ids), batch):
        chunk = article_ids[start : start + batch]
        with Session(queries.engine) as session:
            articles = {
                a.article_id: a
                for a in session.exec(
                    select(ArticleRow).where(col(ArticleRow.article_id).in_(chunk))
                ).all()
            }
            reported = session.exec(
                select(ReportRow.article_id, ReportRow.alliance_id)
                .join(AllianceRow, col(AllianceRow.id) == ReportRow.alliance_id)
                .where(
                    col(ReportRow.article_id).in_(chunk),
                    col(AllianceRow.merged_into).is_(None),
                    col(AllianceRow.review_status).in_(_REVIEWED),
                    col(AllianceRow.review_status) != ReviewStatus.rejected.value,
                )
                .order_by(col(ReportRow.article_id), col(ReportRow.event_index))
            ).all()
            by_article: dict[str, list[str]] = {a: [] for a in chunk}
            for article_id, alliance_id in reported:
                if alliance_id not in by_article[article_id]:
                    by_article[article_id].append(alliance_id)
            views = {
                v.alliance.id: v for v in alliance_views(session, sorted({a for _, a in reported}))
            }
        for article_id in chunk:
            article = articles.get(article_id)
            events = [_event(views[a], article_id) for a in by_article[article_id]]
            yield {
                "file": article_id,
                "url": article.url if article else None,
                "title": article.title if article else "",
                "published": (
                    article.published_at.isoformat() if article and article.published_at else None
                ),
                "is_alliance_event": bool(events),
                "events": events,
            }


def as_prediction(row: dict[str, Any]) -> dict[str, Any]:
    """A gold row as the extraction CLI's prediction row (``relevant`` for
    ``is_alliance_event``): scoring the export against itself checks the plumbing."""
    out = {k: v for k, v in row.items() if k != "is_alliance_event"}
    out["relevant"] = row["is_alliance_event"]
    return out
