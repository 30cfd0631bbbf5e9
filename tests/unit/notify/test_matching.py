from __future__ import annotations

import pytest

from services.common.contracts import ChangeKind, EventType
from services.notify.domain.matching import is_alert_worthy, matches, material_changes
from services.notify.domain.models import Filters
from tests.unit.notify.factories import (
    CHONGQING,
    HUAXI,
    NANBU,
    SHANXI,
    alliance,
    change,
    institution,
)

SICHUAN_ORTHO = alliance()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), True),
        (Filters(provinces=["四川"]), True),
        (Filters(provinces=["四川省"]), True),
        (Filters(provinces=["山西省"]), False),
        (Filters(cities=["南充"]), True),  # a member's city, not the lead's
        (Filters(cities=["南充市"]), True),
        (Filters(cities=["绵阳市"]), False),
        (Filters(counties=["南部县"]), True),
        (Filters(counties=["南部"]), True),
        (Filters(counties=["朝阳区"]), False),
        (Filters(provinces=["山西"], cities=["成都"]), True),  # places widen each other
        (Filters(types=[EventType.specialty_alliance]), True),
        (Filters(types=[EventType.county_community, EventType.trusteeship]), False),
        (Filters(specialties=["骨科"]), True),
        (Filters(specialties=["心血管"]), False),
        (Filters(institutions=["华西医院"]), True),  # an alias
        (Filters(institutions=["i-nanbu"]), True),  # an id
        (Filters(institutions=["山大二院"]), False),
        (Filters(min_confidence=0.9), True),
        (Filters(min_confidence=0.95), False),
        (Filters(provinces=["四川"], types=[EventType.county_community]), False),
        (Filters(provinces=["四川"], specialties=["骨科"], min_confidence=0.5), True),
    ],
)
def test_filters(filters: Filters, expected: bool) -> None:
    assert matches(filters, SICHUAN_ORTHO) is expected


def test_a_district_and_a_county_of_one_stem_are_two_places() -> None:
    district = alliance(lead=(institution("朝阳区医院", "北京", "北京", "朝阳区"),), members=())
    county = alliance(lead=(institution("朝阳县医院", "辽宁", "朝阳市", "朝阳县"),), members=())
    assert matches(Filters(counties=["朝阳区"]), district)
    assert not matches(Filters(counties=["朝阳区"]), county)
    assert matches(Filters(counties=["朝阳县"]), county)
    assert not matches(Filters(counties=["朝阳县"]), district)
    assert matches(Filters(cities=["朝阳"]), county)  # 朝阳市, the county's city


def test_every_institution_counts_for_the_place() -> None:
    cross = alliance(lead=(SHANXI,), members=(CHONGQING,), provinces=("山西", "重庆"))
    assert matches(Filters(provinces=["重庆"]), cross)
    assert matches(Filters(cities=["太原"]), cross)
    assert not matches(Filters(provinces=["四川"]), cross)


def test_alliance_provinces_count_when_institutions_have_no_place() -> None:
    bare = alliance(lead=(institution("某医院"),), members=(), provinces=("广西",))
    assert matches(Filters(provinces=["广西壮族自治区"]), bare)


def test_specialty_matches_loosely() -> None:
    heart = alliance(specialty="心血管内科")
    assert matches(Filters(specialties=["心血管"]), heart)
    assert not matches(Filters(specialties=["骨科"]), alliance(specialty=None))


def test_created_is_always_worth_an_alert() -> None:
    assert is_alert_worthy(change(kind=ChangeKind.created))


def test_an_analysts_review_is_always_worth_an_alert() -> None:
    assert is_alert_worthy(change(kind=ChangeKind.retracted, by_review=True))
    confirmed = change(kind=ChangeKind.updated, changed_fields=("confidence",), by_review=True)
    assert is_alert_worthy(confirmed)
    assert not is_alert_worthy(confirmed.model_copy(update={"by_review": False}))


@pytest.mark.parametrize(
    ("fields", "worthy"),
    [
        (("members",), True),
        (("members[2]",), True),
        (("type",), True),
        (("specialty",), True),
        (("date",), True),
        (("sources",), False),
        (("sources", "last_seen", "confidence"), False),
        ((), False),
    ],
)
def test_updates_alert_only_when_material(fields: tuple[str, ...], worthy: bool) -> None:
    update = change(kind=ChangeKind.updated, changed_fields=fields)
    assert is_alert_worthy(update) is worthy


def test_comparison_with_the_previous_state_finds_material_changes() -> None:
    before = alliance(members=(HUAXI,))
    after = alliance(members=(HUAXI, NANBU), sources=2)
    update = change(alliance_=after, kind=ChangeKind.updated, changed_fields=("sources",))
    assert material_changes(update, before) == {"members"}
    same = change(alliance_=alliance(sources=3), kind=ChangeKind.updated)
    assert material_changes(same, alliance(sources=2)) == set()
