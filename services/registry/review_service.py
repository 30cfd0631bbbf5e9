"""The analysts' use cases: issue and revoke review keys; confirm, correct, reject, merge
and split alliances.

Each action is one unit of work: the alliance's new state, the audit row (who, when, the
alliance before and after, the note) and the outbox entry of the change bureaus are told
of are committed together or not at all. What an action may do is decided in
``domain/review.py``; the store applies it (``adapters/review_store.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.contracts import ChangeKind, InstitutionMention
from services.common.values import canonical_json as dumps
from services.common.values import utc
from services.registry.adapters.alliance_store import CommittedChange
from services.registry.adapters.repository import Working
from services.registry.adapters.tables import AllianceRow, AnalystRow
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.domain.alliances import FACT_FIELDS, changed_fields
from services.registry.domain.review import (
    Analyst,
    ReviewAction,
    ReviewConflict,
    ReviewError,
    ReviewStatus,
    UnknownAlliance,
    check_changes,
    check_merge,
    check_split,
    corrected_changes,
    status_after,
)


@dataclass(frozen=True)
class ReviewOutcome:
    """What an action did: the alliance it answers with (a split's new one), the changes
    it published, and its audit row's id."""

    alliance_id: str
    changes: tuple[CommittedChange, ...]
    action_id: int


def create_analyst(uow: UnitOfWork, name: str, now: datetime) -> tuple[AnalystRow, str]:
    """A new analyst and their key (returned once; only its hash is kept)."""
    with uow:
        row, key = uow.reviews.add_analyst(name.strip(), utc(now))
        uow.commit()
        uow.refresh(row)
        return row, key


def revoke_analyst(uow: UnitOfWork, analyst_id: str, now: datetime) -> bool:
    """Revoke the analyst's key at once; False if there is no such analyst."""
    with uow:
        row = uow.reviews.analyst(analyst_id)
        if row is None:
            return False
        if row.revoked_at is None:
            row.revoked_at = utc(now)
            uow.reviews.session.add(row)
            uow.commit()
        return True


def _standing(uow: UnitOfWork, alliance_id: str) -> AllianceRow:
    """The alliance an action is on: 404 unknown, 409 merged away (naming the survivor)."""
    row = uow.reviews.alliance(alliance_id)
    if row is None:
        raise UnknownAlliance(f"no alliance {alliance_id}")
    if row.merged_into:
        raise ReviewConflict(
            f"alliance {alliance_id} was merged into {row.merged_into}: act on that one",
            row.merged_into,
        )
    return row


def review(
    uow: UnitOfWork,
    alliance_id: str,
    analyst: Analyst,
    action: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> ReviewOutcome:
    """Confirm, correct or reject one alliance."""
    now = utc(now)
    try:
        verb = ReviewAction(action)
    except ValueError:
        raise ReviewError(f"unknown action {action!r}; one of confirm, correct, reject") from None
    if verb not in (ReviewAction.confirm, ReviewAction.correct, ReviewAction.reject):
        raise ReviewError(f"{action} has its own route: POST /v1/alliances/{{id}}/{action}")
    if verb == ReviewAction.reject and not (note and note.strip()):
        raise ReviewError("a rejection needs a note saying why")
    if verb != ReviewAction.correct and changes is not None:
        raise ReviewError(f"`changes` are for action correct, not {action}")
    wanted = check_changes(changes) if verb == ReviewAction.correct else {}
    with uow:
        reviews = uow.reviews
        row = _standing(uow, alliance_id)
        before = reviews.view(alliance_id).snapshot()
        was = ReviewStatus(row.review_status)
        corrections: dict[str, Any] = json.loads(row.corrections or "{}")
        published: list[CommittedChange] = []
        fields: tuple[str, ...] = ()
        work = Working()
        reports = reviews.load(work, alliance_id)
        rewritten = bool(wanted and reports)  # a rewrite starts a new revision itself
        if wanted:
            corrections.update(_resolved(uow, wanted, now))
            row.corrections = dumps(corrections)
            work.corrections[alliance_id] = corrections
            if reports:
                facts = reviews.rewrite(work, row, reports, now)
                fields = corrected_changes(work.before[alliance_id], facts, wanted)
        row.review_status = status_after(verb, was, bool(corrections)).value
        row.reviewed_at = now
        row.reviewed_by = analyst.id
        if verb == ReviewAction.reject:
            if was != ReviewStatus.rejected:
                published.append(reviews.publish(row, ChangeKind.retracted, (), now))
        elif was == ReviewStatus.rejected:
            # Taken back: bureaus told of its retraction hear it stands after all.
            published.append(
                reviews.publish(
                    row, ChangeKind.updated, ("review_status", *fields), now, bump=not rewritten
                )
            )
        elif fields:
            published.append(reviews.publish(row, ChangeKind.updated, fields, now, bump=False))
        after = reviews.view(alliance_id).snapshot()
        audit = reviews.record(alliance_id, analyst, verb.value, now, before, after, note)
        uow.commit()
        assert audit.id is not None
        return ReviewOutcome(alliance_id, tuple(published), audit.id)


def _resolved(uow: UnitOfWork, wanted: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The corrections with lead and member names resolved to institutions exactly as an
    extraction's are (aliases, the renames table; a new name makes a new institution)."""
    out = dict(wanted)
    renames = uow.store.renames()
    for role in ("lead", "members"):
        if role in wanted:
            mentions = [InstitutionMention(name=n) for n in wanted[role]]
            out[role] = uow.store.resolve_all(mentions, renames, now)
    both = set(out.get("lead", ())) & set(out.get("members", ()))
    if both:
        raise ReviewError("the same institution (under two of its names) is both lead and member")
    return out


def merge(
    uow: UnitOfWork,
    survivor_id: str,
    other_id: str,
    analyst: Analyst,
    now: datetime,
    note: str | None = None,
) -> ReviewOutcome:
    """Merge ``other_id`` into ``survivor_id``: the survivor takes its reports (so its
    sources and institutions; the survivor's locked fields win), the other keeps its id,
    which now points at the survivor."""
    now = utc(now)
    with uow:
        reviews = uow.reviews
        rows: dict[str, AllianceRow] = {}
        for ident in (survivor_id, other_id):
            found = reviews.alliance(ident)
            if found is None:
                raise UnknownAlliance(f"no alliance {ident}")
            rows[ident] = found
        check_merge(survivor_id, other_id, {k: r.merged_into for k, r in rows.items()})
        survivor, other = rows[survivor_id], rows[other_id]
        before = reviews.view(survivor_id).snapshot()
        other_before = reviews.view(other_id).snapshot()
        work = Working()
        reviews.load(work, survivor_id)
        moved = reviews.load(work, other_id)
        # Told first, while it still shows what bureaus were alerted of.
        other.merged_into = survivor_id
        published = [reviews.publish(other, ChangeKind.retracted, (), now, merged_into=survivor_id)]
        reviews.move_reports(other_id, survivor_id, None)
        reviews.detach(other_id)
        work.reports[survivor_id] = [*work.reports[survivor_id], *moved]
        work.reports[other_id] = []
        facts = reviews.rewrite(work, survivor, work.reports[survivor_id], now)
        fields = changed_fields(work.before[survivor_id], facts)
        if survivor.review_status != ReviewStatus.rejected and fields:
            published.insert(
                0, reviews.publish(survivor, ChangeKind.updated, fields, now, bump=False)
            )
        after = reviews.view(survivor_id).snapshot()
        audit = reviews.record(survivor_id, analyst, "merge", now, before, after, note)
        other_after = reviews.view(other_id).snapshot()
        reviews.record(other_id, analyst, "absorbed", now, other_before, other_after, note)
        uow.commit()
        assert audit.id is not None
        return ReviewOutcome(survivor_id, tuple(published), audit.id)


def split(
    uow: UnitOfWork,
    alliance_id: str,
    source_ids: list[str],
    analyst: Analyst,
    now: datetime,
    note: str | None = None,
) -> ReviewOutcome:
    """Move the reports of ``source_ids`` (article ids) out into a new alliance."""
    now = utc(now)
    with uow:
        reviews = uow.reviews
        row = _standing(uow, alliance_id)
        before = reviews.view(alliance_id).snapshot()
        work = Working()
        reports = reviews.load(work, alliance_id)
        articles = list(dict.fromkeys(r.article_id for r in reports))
        moving = set(check_split(articles, source_ids))
        moved = [r for r in reports if r.article_id in moving]
        new_id = _new_id(uow, alliance_id, sorted(moving))
        work.reports[new_id] = moved
        work.reports[alliance_id] = [r for r in reports if r.article_id not in moving]
        work.corrections[new_id] = {}
        new_row = reviews.new_alliance(new_id, reviews.store.facts_of(work, new_id, moved), now)
        reviews.move_reports(alliance_id, new_id, sorted(moving))
        reviews.rewrite(work, new_row, moved, now)
        created = reviews.publish(new_row, ChangeKind.created, FACT_FIELDS, now, bump=False)
        facts = reviews.rewrite(work, row, work.reports[alliance_id], now)
        published = [created]
        fields = changed_fields(work.before[alliance_id], facts)
        if row.review_status != ReviewStatus.rejected and fields:
            published.append(reviews.publish(row, ChangeKind.updated, fields, now, bump=False))
        after = reviews.view(alliance_id).snapshot()
        reviews.record(alliance_id, analyst, "split", now, before, after, note)
        new_after = reviews.view(new_id).snapshot()
        audit = reviews.record(new_id, analyst, "split", now, None, new_after, note)
        uow.commit()
        assert audit.id is not None
        return ReviewOutcome(new_id, tuple(published), audit.id)


def _new_id(uow: UnitOfWork, alliance_id: str, articles: list[str]) -> str:
    """Deterministic from what was split off, and never an id already taken."""
    key = f"split|{alliance_id}|{'|'.join(articles)}"
    ident = "a" + hashlib.sha256(key.encode()).hexdigest()[:15]
    while uow.reviews.taken(ident):
        ident = "a" + hashlib.sha256(ident.encode()).hexdigest()[:15]
    return ident
