"""The review rules without a database: what a correction may say, how corrections lie
over what the reports establish, and when a merge or a split is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.contracts import EventType
from services.registry.domain.alliances import Report, aggregate
from services.registry.domain.review import (
    ReviewAction,
    ReviewConflict,
    ReviewError,
    ReviewStatus,
    apply_corrections,
    check_changes,
    check_merge,
    check_split,
    corrected_changes,
    status_after,
)

SEEN = datetime(2024, 1, 1, tzinfo=UTC)


def report(article: str, lead: tuple[str, ...], members: tuple[str, ...], **kw: object) -> Report:
    fields: dict[str, object] = {
        "article_id": article,
        "event_index": 0,
        "type": EventType.specialty_alliance,
        "specialty": "骨科",
        "lead": lead,
        "members": members,
        "date": "2023-10-14",
        "provinces": ("山西",),
        "cross_province": False,
        "confidence": 0.6,
        "evidence": "…",
        "seen_at": SEEN,
    }
    fields.update(kw)
    return Report(**fields)  # type: ignore[arg-type]


def test_a_correction_is_normalised_as_extracted_facts_are() -> None:
    checked = check_changes(
        {
            "lead": [" 山西医科大学第二医院 "],
            "members": ["河津市人民医院", "河津市人民医院"],
            "type": "specialty_alliance",
            "specialty": "骨科专科联盟",
            "date": "2023-10",
            "provinces": ["山西省", "陕西"],
        }
    )
    assert checked == {
        "type": "specialty_alliance",
        "specialty": "骨科",
        "lead": ["山西医科大学第二医院"],
        "members": ["河津市人民医院"],
        "date": "2023-10",
        "provinces": ["山西", "陕西"],
    }
    assert check_changes({"specialty": None}) == {"specialty": None}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (None, "needs `changes`"),
        ({}, "empty"),
        ({"confidence": 1.0}, "cannot correct confidence"),
        ({"type": "hospital"}, "unknown type 'hospital'"),
        ({"date": "2023-02-30"}, "bad date"),
        ({"date": "14/10/2023"}, "bad date"),
        ({"provinces": ["四州"]}, "unknown province"),
        ({"lead": ["甲医院"], "members": ["甲医院"]}, "both a lead and a member"),
        ({"lead": [], "members": []}, "at least one institution"),
        ({"lead": ["  "]}, "not an institution name"),
        ({"lead": "甲医院"}, "must be a list"),
    ],
)
def test_a_correction_that_cannot_be_done_says_why(changes: object, reason: str) -> None:
    with pytest.raises(ReviewError, match=reason):
        check_changes(changes)  # type: ignore[arg-type]


def test_corrections_lie_over_the_facts_and_move_institutions_between_roles() -> None:
    facts = aggregate([report("a1", ("i-lead",), ("i-m1", "i-m2"))])
    corrected = apply_corrections(
        facts, {"lead": ["i-m1"], "date": "2023-11"}, {"i-m1": "陕西省", "i-lead": "山西"}
    )
    assert corrected.lead == ("i-m1",)
    # The corrected lead left the members; the old lead is a member now, not lost.
    assert corrected.members == ("i-m2", "i-lead")
    assert corrected.date == "2023-11"
    assert corrected.provinces == ("山西", "陕西") and corrected.cross_province
    assert corrected.specialty == facts.specialty and corrected.type == facts.type
    locked = apply_corrections(facts, {"provinces": ["北京"]}, {})
    assert locked.provinces == ("北京",) and not locked.cross_province
    assert apply_corrections(facts, {}) is facts


def test_only_the_corrected_fields_that_changed_are_named() -> None:
    before = aggregate([report("a1", ("i-lead",), ("i-m1",))])
    after = apply_corrections(before, {"specialty": "骨科", "date": "2020-01-01"})
    assert corrected_changes(before, after, {"specialty", "date"}) == ("date",)


def test_status_after_each_action() -> None:
    assert status_after(ReviewAction.confirm, ReviewStatus.unreviewed, False) == "confirmed"
    assert status_after(ReviewAction.confirm, ReviewStatus.rejected, False) == "confirmed"
    assert status_after(ReviewAction.confirm, ReviewStatus.corrected, True) == "corrected"
    assert status_after(ReviewAction.correct, ReviewStatus.rejected, True) == "corrected"
    assert status_after(ReviewAction.reject, ReviewStatus.corrected, True) == "rejected"


def test_a_merge_into_itself_or_of_a_merged_away_alliance_is_a_conflict() -> None:
    check_merge("a1", "a2", {"a1": None, "a2": None})
    with pytest.raises(ReviewConflict, match="into itself"):
        check_merge("a1", "a1", {"a1": None})
    with pytest.raises(ReviewConflict, match="merged into a9") as found:
        check_merge("a1", "a2", {"a1": "a9", "a2": None})
    assert found.value.survivor == "a9"


def test_a_split_takes_some_but_not_all_of_the_sources() -> None:
    assert check_split(["x", "y", "z"], ["z", "x", "x"]) == ["x", "z"]
    with pytest.raises(ReviewError, match="not sources of this alliance: w"):
        check_split(["x", "y"], ["w"])
    with pytest.raises(ReviewError, match="every source"):
        check_split(["x", "y"], ["y", "x"])
    with pytest.raises(ReviewError, match="at least one"):
        check_split(["x", "y"], [" "])
