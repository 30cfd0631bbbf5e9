"""One place vocabulary: the same word means the same place in the registry's filters and
in alert matching, and a word that is no place is refused with the nearest names."""

from __future__ import annotations

import pytest

from services.common.places import (
    Level,
    UnknownPlace,
    check,
    city_key,
    county_key,
    county_keys,
    keys_of,
    province_key,
    suggest,
)


@pytest.mark.parametrize(
    ("word", "key"),
    [("四川省", "四川"), ("四川", "四川"), ("广西壮族自治区", "广西"), ("北京市", "北京")],
)
def test_a_province_is_its_short_name(word: str, key: str) -> None:
    assert province_key(word) == key


@pytest.mark.parametrize(
    ("word", "key"),
    [("西安市", "西安"), ("西安", "西安"), ("大理白族自治州", "大理"), ("大理州", "大理")],
)
def test_a_city_is_its_short_name(word: str, key: str) -> None:
    assert city_key(word) == key


def test_a_county_keeps_its_suffix_so_district_and_county_stay_apart() -> None:
    assert county_key("朝阳区") in county_keys("朝阳区")
    assert county_key("朝阳区") not in county_keys("朝阳县")
    assert county_key("朝阳县") not in county_keys("朝阳区")


def test_a_county_is_found_by_its_alias_and_former_names() -> None:
    assert county_key("叙永") in county_keys("叙永县")
    assert county_key("双江县") in county_keys("双江拉祜族佤族布朗族傣族自治县")


def test_width_and_spaces_do_not_make_another_place() -> None:
    assert province_key(" 四 川 省") == "四川"
    assert county_key("叙永 县") in county_keys("叙永县")


def test_keys_of_a_place_cover_every_level() -> None:
    keys = keys_of("四川省", "泸州市", "叙永县")
    assert (Level.province, "四川") in keys
    assert (Level.city, "泸州") in keys
    assert {(Level.county, "叙永县"), (Level.county, "叙永")} <= keys
    assert keys_of(None) == set()


def test_known_words_pass() -> None:
    for level, word in (
        (Level.province, "四川"),
        (Level.province, "四川省"),
        (Level.city, "泸州"),
        (Level.city, "大理州"),
        (Level.county, "理县"),
        (Level.county, "南部"),
    ):
        check(level, word)


def test_a_typo_is_refused_with_the_nearest_names() -> None:
    with pytest.raises(UnknownPlace) as refused:
        check(Level.county, "朝杨区")
    assert "朝阳区" in refused.value.suggestions
    assert "朝阳区 (北京市/长春市)" in str(refused.value)  # one name, two places
    assert all(not s.endswith(")") for s in refused.value.suggestions)  # usable as they are


def test_every_suggestion_is_accepted_at_its_level() -> None:
    for level, word in ((Level.city, "西按市"), (Level.province, "四州"), (Level.county, "理")):
        suggestions = suggest(level, word)
        assert suggestions
        for name in suggestions:
            check(level, name)


def test_a_word_of_another_level_says_which_list_it_belongs_in() -> None:
    with pytest.raises(UnknownPlace, match="西安市 is a city, not a county"):
        check(Level.county, "西安市")


def test_nothing_similar_is_said_plainly() -> None:
    with pytest.raises(UnknownPlace, match="no similar name") as refused:
        check(Level.province, "xyz")
    assert refused.value.suggestions == []
