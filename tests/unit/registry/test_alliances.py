"""Alliance identity, merging, and conflicting facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.contracts import EventType
from services.registry.domain.alliances import (
    FACT_FIELDS,
    AllianceSummary,
    Report,
    aggregate,
    best_match,
    changed_fields,
    date_gap_days,
    match_score,
    new_alliance_id,
    normalize_specialty,
    parse_event_date,
    types_compatible,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def report(
    article: str = "a1",
    *,
    index: int = 0,
    type: EventType = EventType.specialty_alliance,
    specialty: str | None = "骨科",
    lead: tuple[str, ...] = ("L",),
    members: tuple[str, ...] = ("M1",),
    date: str | None = "2018-07-29",
    provinces: tuple[str, ...] = (),
    cross: bool = False,
    confidence: float = 0.8,
    seen: int = 0,
) -> Report:
    return Report(
        article_id=article,
        event_index=index,
        type=type,
        specialty=specialty,
        lead=lead,
        members=members,
        date=date,
        provinces=provinces,
        cross_province=cross,
        confidence=confidence,
        evidence=f"evidence of {article}",
        seen_at=T0 + timedelta(hours=seen),
    )


def summary(*reports: Report, ident: str = "X") -> AllianceSummary:
    return AllianceSummary.of(ident, reports)


# --- identity ------------------------------------------------------------------------


def test_two_reports_of_one_signing_match() -> None:
    first = report("a1")
    second = report("a2", date="2018-07-30", confidence=0.6)
    assert best_match(second, [summary(first)]) == "X"


def test_roles_swapped_in_a_differently_worded_report_still_match() -> None:
    first = report("a1", lead=("L",), members=("M1",))
    swapped = report("a2", lead=("M1",), members=("L",))
    assert match_score(swapped, summary(first)) is not None


def test_a_new_member_joining_a_specialty_alliance_matches_it() -> None:
    first = report("a1", members=("M1",), date="2018-07-29")
    joining = report("a2", members=("M2",), date="2019-03-01")
    assert best_match(joining, [summary(first)]) == "X"


def test_a_different_specialty_of_the_same_lead_is_another_alliance() -> None:
    first = report("a1", specialty="骨科")
    other = report("a2", specialty="心血管内科", members=("M2",))
    assert best_match(other, [summary(first)]) is None
    same_pair = report("a3", specialty="心血管内科")
    assert best_match(same_pair, [summary(first)]) is None


def test_a_bilateral_consortium_with_another_member_is_another_alliance() -> None:
    first = report("a1", type=EventType.tight_consortium, specialty=None, members=("M1",))
    other = report("a2", type=EventType.tight_consortium, specialty=None, members=("M2",))
    assert best_match(other, [summary(first)]) is None


def test_a_medical_group_announcing_members_days_apart_is_one_alliance() -> None:
    first = report("a1", type=EventType.medical_group, specialty=None, date="2022-03-01")
    more = report(
        "a2", type=EventType.medical_group, specialty=None, members=("M2",), date="2022-03-10"
    )
    later = report(
        "a3", type=EventType.medical_group, specialty=None, members=("M3",), date="2023-03-10"
    )
    assert best_match(more, [summary(first)]) == "X"
    assert best_match(later, [summary(first)]) is None


def test_the_same_pair_years_apart_is_another_alliance() -> None:
    first = report("a1", type=EventType.tight_consortium, specialty=None, date="2015-01-01")
    renewed = report("a2", type=EventType.tight_consortium, specialty=None, date="2020-01-01")
    assert best_match(renewed, [summary(first)]) is None
    close = report("a3", type=EventType.tight_consortium, specialty=None, date="2015-02")
    assert best_match(close, [summary(first)]) == "X"


def test_incompatible_types_never_match() -> None:
    first = report("a1", type=EventType.trusteeship, specialty=None)
    other = report("a2", type=EventType.remote_network, specialty=None)
    assert match_score(other, summary(first)) is None


def test_generic_and_family_types_are_compatible() -> None:
    assert types_compatible(EventType.tight_consortium, EventType.consortium)
    assert types_compatible(EventType.medical_group, EventType.tight_consortium)
    assert types_compatible(EventType.specialty_alliance, EventType.consortium)
    assert not types_compatible(EventType.specialty_alliance, EventType.trusteeship)


def test_no_shared_institution_no_match() -> None:
    assert best_match(report("a2", lead=("P",), members=("Q",)), [summary(report())]) is None


def test_different_leads_sharing_one_member_are_two_alliances() -> None:
    first = report("a1", lead=("L1",), members=("M",))
    other = report("a2", lead=("L2",), members=("M",))
    assert best_match(other, [summary(first)]) is None


def test_the_strongest_candidate_wins() -> None:
    weak = summary(report("a1", members=("M9",), date="2018-01-01"), ident="weak")
    strong = summary(report("a2", members=("M1",)), ident="strong")
    assert best_match(report("a3"), [weak, strong]) == "strong"


def test_new_alliance_ids_are_deterministic() -> None:
    r = report("a1")
    assert new_alliance_id(r, "1") == new_alliance_id(r, "1")
    assert new_alliance_id(r, "1") != new_alliance_id(r, "2")


# --- dates and specialties -------------------------------------------------------------


def test_event_dates() -> None:
    assert parse_event_date("2018-07-29") is not None
    first, last = parse_event_date("2024-02") or (None, None)
    assert str(first) == "2024-02-01" and str(last) == "2024-02-29"
    assert parse_event_date("2024-13") is None
    assert date_gap_days("2018-07", "2018-07-29") == 0
    assert date_gap_days("2018-07-01", "2018-07-31") == 30
    assert date_gap_days(None, "2018-07-31") is None


@pytest.mark.parametrize(
    ("value", "normal"),
    [("骨科", "骨科"), ("骨科专科联盟", "骨科"), ("骨科专科", "骨科"), (" ", None), (None, None)],
)
def test_specialties_normalise(value: str | None, normal: str | None) -> None:
    assert normalize_specialty(value) == normal


# --- merging ---------------------------------------------------------------------------


def test_aggregate_unions_members_and_counts_sources() -> None:
    facts = aggregate([report("a1"), report("a2", members=("M2",), seen=5, confidence=0.5)])
    assert facts.lead == ("L",)
    assert facts.members == ("M1", "M2")
    assert facts.article_ids == ("a1", "a2")
    assert facts.confidence == pytest.approx(0.9)
    assert facts.first_seen == T0 and facts.last_seen == T0 + timedelta(hours=5)


def test_conflicting_facts_keep_the_best_supported_value_and_the_alternatives() -> None:
    reports = [
        report("a1", date="2018-07-29"),
        report("a2", date="2018-07-29", seen=1),
        report("a3", date="2018-07-28", seen=2, type=EventType.consortium),
    ]
    facts = aggregate(reports)
    assert facts.date == "2018-07-29"
    assert facts.type == EventType.specialty_alliance
    dates = facts.alternatives["date"]
    assert [(a.value, a.support, a.article_ids) for a in dates] == [
        ("2018-07-29", 2, ("a1", "a2")),
        ("2018-07-28", 1, ("a3",)),
    ]
    assert [a.value for a in facts.alternatives["type"]] == ["specialty_alliance", "consortium"]
    assert "specialty" not in facts.alternatives


def test_ties_prefer_the_specific_type_and_the_precise_date() -> None:
    facts = aggregate(
        [
            report("a1", type=EventType.consortium, date="2018-07"),
            report("a2", type=EventType.tight_consortium, date="2018-07-29"),
        ]
    )
    assert facts.type == EventType.tight_consortium
    assert facts.date == "2018-07-29"


def test_one_article_counts_once_however_many_events_it_has() -> None:
    facts = aggregate(
        [
            report("a1", index=0, date="2018-07-01"),
            report("a1", index=1, date="2018-07-01"),
            report("a2", date="2018-07-29", confidence=0.9),
        ]
    )
    assert facts.date == "2018-07-29", "one article twice is still one source"
    assert facts.article_ids == ("a1", "a2")


def test_roles_follow_the_majority() -> None:
    facts = aggregate(
        [
            report("a1", lead=("L",), members=("M",)),
            report("a2", lead=("L",), members=("M",)),
            report("a3", lead=("M",), members=("L",)),
        ]
    )
    assert facts.lead == ("L",) and facts.members == ("M",)


def test_provinces_come_from_reports_and_institutions() -> None:
    facts = aggregate([report("a1", provinces=("陕西省",))], {"L": "陕西", "M1": "四川省"})
    assert facts.provinces == ("陕西", "四川")
    assert facts.cross_province is True
    single = aggregate([report("a1", provinces=("山西",), cross=True)])
    assert single.cross_province is False, "one province is not cross-province"


def test_changed_fields() -> None:
    before = aggregate([report("a1")])
    assert changed_fields(None, before) == FACT_FIELDS
    assert changed_fields(before, aggregate([report("a1")])) == ()
    grown = aggregate([report("a1"), report("a2", members=("M2",))])
    assert set(changed_fields(before, grown)) == {"members", "confidence", "sources"}


def test_aggregate_needs_a_report() -> None:
    with pytest.raises(ValueError):
        aggregate([])
