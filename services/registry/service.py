"""The registry's use cases: take in an article's extraction, record and forget renames.

Each is one unit of work (``adapters/unit_of_work.py``): the decisions are the domain's
(``domain/extractions.py`` whether an extraction is news, ``domain/alliances.py`` which
alliance a report belongs to and what changed, ``domain/institutions.py`` who an
institution is), the store applies them to the tables, and the unit of work commits them
with their outbox entries or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.contracts import ExtractedArticle
from services.common.values import utc
from services.registry import review_service
from services.registry.adapters.alliance_store import CommittedChange
from services.registry.adapters.repository import RegistryStore, Working
from services.registry.adapters.review_store import analyst_row_by_key
from services.registry.adapters.tables import AnalystRow, RenameRow
from services.registry.adapters.unit_of_work import UnitOfWork
from services.registry.domain.alliances import (
    Report,
    founding_id,
    normalize_provinces,
    normalize_specialty,
)
from services.registry.domain.extractions import fingerprint, is_older
from services.registry.domain.names import clean_name, name_key
from services.registry.domain.review import Analyst


@dataclass(frozen=True)
class ApplyOutcome:
    """What taking in one extraction did."""

    status: str  # "applied", "unchanged" (a replay) or "stale" (an older extraction)
    alliance_ids: tuple[str, ...] = ()
    changes: tuple[CommittedChange, ...] = ()
    removed: tuple[str, ...] = ()


def apply_extraction(uow: UnitOfWork, message: ExtractedArticle, now: datetime) -> ApplyOutcome:
    """Take in one article's extraction; it replaces what an earlier extraction said."""
    [outcome] = apply_extractions(uow, [message], now)
    return outcome


#: Opens what one message's work runs in (its trace span); see ``apply_extractions``.
Around = Callable[[ExtractedArticle], AbstractContextManager[object]]


def apply_extractions(
    uow: UnitOfWork,
    messages: Sequence[ExtractedArticle],
    now: datetime,
    around: Around | None = None,
) -> list[ApplyOutcome]:
    """Take in several extractions, in order, in one transaction: all of them, or (an
    exception) none. Each runs inside ``around(message)`` when given, so that the outbox
    entries of its changes keep its own trace context."""
    now = utc(now)
    outcomes: list[ApplyOutcome] = []
    with uow:
        renames = uow.store.renames()  # the batch holds the write lock: they cannot change
        uow.store.hold_alliances()
        # What the batch is about, read with a SELECT each rather than one per message.
        uow.store.articles_of(m.article_id for m in messages)
        uow.store.expect_founding(
            founding_id(m.article_id, index, m.extractor_version)
            for m in messages
            if m.relevant
            for index in range(len(m.events))
        )
        uow.store.expect_mentions(
            (
                mention
                for m in messages
                if m.relevant
                for event in m.events
                for mention in (*event.lead, *event.members)
            ),
            renames,
        )
        for message in messages:
            with around(message) if around is not None else nullcontext():
                outcomes.append(_take_in(uow.store, message, now, renames))
        if any(o.status == "applied" for o in outcomes):
            uow.commit()
    return outcomes


def _take_in(
    store: RegistryStore,
    message: ExtractedArticle,
    now: datetime,
    renames: Mapping[str, str],
) -> ApplyOutcome:
    """One extraction, written to the open transaction (not committed)."""
    digest = fingerprint(message)
    kept = store.article(message.article_id)
    if kept is not None and kept.fingerprint == digest:
        return ApplyOutcome("unchanged")
    if kept is not None and is_older(message, kept.extractor_version, kept.extracted_at):
        return ApplyOutcome("stale")
    seen_at = store.record_article(message, digest, now)
    work = Working()
    # Reports are only ever filed for a recorded article: a new one has none to withdraw.
    ghosts = store.withdraw_reports(message.article_id, work) if kept is not None else {}
    filed: list[tuple[str, Report]] = []  # each new report, with its alliance's id
    for index, event in enumerate(message.events if message.relevant else ()):
        lead = store.resolve_all(event.lead, renames, now)
        members = [i for i in store.resolve_all(event.members, renames, now) if i not in lead]
        if not lead and not members:
            continue  # nothing to identify an alliance by
        report = Report(
            article_id=message.article_id,
            event_index=index,
            type=event.type,
            specialty=normalize_specialty(event.specialty),
            lead=tuple(lead),
            members=tuple(members),
            date=event.date,
            provinces=normalize_provinces(event.provinces),
            cross_province=event.cross_province,
            confidence=event.confidence,
            evidence=event.evidence.text,
            seen_at=seen_at,
        )
        alliance_id = store.place_report(work, ghosts, report, message.extractor_version)
        work.reports.setdefault(alliance_id, []).append(report)
        filed.append((alliance_id, report))
    changes, removed = store.commit_alliances(work, now, filed)
    touched = tuple(dict.fromkeys(alliance_id for alliance_id, _ in filed))
    return ApplyOutcome("applied", touched, tuple(changes), tuple(removed))


def put_rename(
    uow: UnitOfWork, old_name: str, new_name: str, now: datetime
) -> tuple[RenameRow, bool]:
    """Record that ``old_name`` became ``new_name`` and fold the institutions together.

    Returns the rule and whether it is new. Alliances whose institutions changed get an
    ``updated`` change through the outbox, in the same transaction.
    """
    now = utc(now)
    old_key, new_key = name_key(old_name), name_key(new_name)
    if not old_key or not new_key or old_key == new_key:
        raise ValueError("the old and the new name must be two different names")
    with uow:
        rule = uow.store.rename_rule(old_key)
        created = rule is None
        if rule is None:
            rule = RenameRow(
                old_key=old_key, old_name=clean_name(old_name), new_name="", created_at=now
            )
        rule.new_name = clean_name(new_name)
        uow.store.save_rule(rule)
        uow.store.fold_renamed(old_key, rule.new_name, now)
        uow.commit()
        uow.refresh(rule)
        return rule, created


def delete_rename(uow: UnitOfWork, rename_id: int) -> bool:
    """Forget a rule; institutions already folded together stay together."""
    with uow:
        rule = uow.store.rename_rule_by_id(rename_id)
        if rule is None:
            return False
        uow.store.delete_rule(rule)
        uow.commit()
        return True


class RegistryService:
    """The use cases bound to one database: what the consumer and the API call.

    Writers share one lock, so one process never runs two units of work at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self._lock)

    def apply_extraction(self, message: ExtractedArticle, now: datetime) -> ApplyOutcome:
        return apply_extraction(self.unit_of_work(), message, now)

    def apply_extractions(
        self, messages: Sequence[ExtractedArticle], now: datetime, around: Around | None = None
    ) -> list[ApplyOutcome]:
        return apply_extractions(self.unit_of_work(), messages, now, around)

    def put_rename(self, old_name: str, new_name: str, now: datetime) -> tuple[RenameRow, bool]:
        return put_rename(self.unit_of_work(), old_name, new_name, now)

    def delete_rename(self, rename_id: int) -> bool:
        return delete_rename(self.unit_of_work(), rename_id)

    # --- analysts and their review (``review_service.py``) -----------------------------

    def analyst_by_key(self, key: str) -> Analyst | None:
        """The analyst holding this live key, or None (unknown or revoked): what the API
        and the dashboard authenticate analysts by."""
        with Session(self.engine) as session:
            row = analyst_row_by_key(session, key)
            return Analyst(row.id, row.name) if row is not None else None

    def create_analyst(self, name: str, now: datetime) -> tuple[AnalystRow, str]:
        return review_service.create_analyst(self.unit_of_work(), name, now)

    def revoke_analyst(self, analyst_id: str, now: datetime) -> bool:
        return review_service.revoke_analyst(self.unit_of_work(), analyst_id, now)

    def review(
        self,
        alliance_id: str,
        analyst: Analyst,
        action: str,
        now: datetime,
        changes: Mapping[str, Any] | None = None,
        note: str | None = None,
    ) -> review_service.ReviewOutcome:
        """Confirm, correct or reject an alliance (``action``); ``changes`` for correct."""
        return review_service.review(
            self.unit_of_work(), alliance_id, analyst, action, now, changes, note
        )

    def merge(
        self,
        alliance_id: str,
        other_id: str,
        analyst: Analyst,
        now: datetime,
        note: str | None = None,
    ) -> review_service.ReviewOutcome:
        """Merge ``other_id`` into ``alliance_id``, which survives."""
        return review_service.merge(self.unit_of_work(), alliance_id, other_id, analyst, now, note)

    def split(
        self,
        alliance_id: str,
        source_ids: list[str],
        analyst: Analyst,
        now: datetime,
        note: str | None = None,
    ) -> review_service.ReviewOutcome:
        """Move the reports of ``source_ids`` into a new alliance (the outcome's id)."""
        return review_service.split(
            self.unit_of_work(), alliance_id, source_ids, analyst, now, note
        )
