"""Which alliances a rename shows to be one: decided without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.contracts import EventType
from services.registry.domain.alliances import Report, fold_duplicates

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def report(article: str, lead: str, members: tuple[str, ...], minutes: int) -> Report:
    return Report(
        article_id=article,
        event_index=0,
        type=EventType.specialty_alliance,
        specialty="骨科",
        lead=(lead,),
        members=members,
        date="2024-04",
        provinces=("四川",),
        cross_province=False,
        confidence=0.9,
        evidence="……",
        seen_at=T0 + timedelta(minutes=minutes),
    )


def test_two_records_of_one_alliance_fold_into_the_one_seen_first() -> None:
    reports = {
        "al-late": [report("a2", "i-new", ("i-b",), 5)],
        "al-early": [report("a1", "i-new", ("i-b",), 1)],
    }
    assert fold_duplicates(reports) == [("al-early", "al-late")]
    assert len(reports["al-late"]) == 1, "the caller's reports are left as they were"


def test_different_alliances_stay_apart() -> None:
    reports = {
        "al-1": [report("a1", "i-x", ("i-b",), 1)],
        "al-2": [report("a2", "i-y", ("i-c",), 2)],
        "al-gone": [],
    }
    assert fold_duplicates(reports) == []


def test_three_records_of_one_alliance_fold_into_one() -> None:
    reports = {
        "al-a": [report("a1", "i-new", ("i-b",), 1)],
        "al-b": [report("a2", "i-new", ("i-b",), 2)],
        "al-c": [report("a3", "i-new", ("i-b",), 3)],
    }
    assert fold_duplicates(reports) == [("al-a", "al-b"), ("al-a", "al-c")]
