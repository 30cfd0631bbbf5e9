"""Resolving mentions to canonical institutions."""

from __future__ import annotations

from services.common.contracts import InstitutionMention
from services.registry.domain.institutions import (
    InstitutionPlace,
    InstitutionRecord,
    institution_id,
    match_institution,
    merge_into,
    new_record,
    renamed_record,
    resolve_name,
)
from services.registry.domain.names import name_key

RENAMES = {name_key("泸州医学院附属医院"): "西南医科大学附属医院"}


def known(name: str, **place: str) -> InstitutionRecord:
    resolved = resolve_name(InstitutionMention(name=name, **place), {})
    return new_record(resolved)


def test_admin_prefix_spellings_are_one_institution() -> None:
    hospital = known("西安市红会医院")
    mention = resolve_name(InstitutionMention(name="陕西省西安市红会医院"), {})
    assert match_institution(mention, [hospital]) == hospital
    assert mention.place.province == "陕西", "the stripped province is kept as its place"


def test_same_name_in_two_counties_stays_two() -> None:
    a = known("中医医院", province="四川", county="叙永县")
    b_mention = resolve_name(InstitutionMention(name="中医医院", county="古蔺县"), {})
    assert match_institution(b_mention, [a]) is None
    b = new_record(b_mention)
    assert a.id != b.id
    again = resolve_name(InstitutionMention(name="中医医院", county="古蔺"), {})
    assert match_institution(again, [a, b]) == b


def test_unknown_place_matches_and_is_filled_in() -> None:
    a = known("叙永县人民医院")
    mention = resolve_name(InstitutionMention(name="叙永县人民医院", county="叙永县"), {})
    assert match_institution(mention, [a]) == a
    merged = merge_into(a, mention)
    assert merged.place.county == "叙永县" and merged.id == a.id


def test_aliases_match_both_ways() -> None:
    base = resolve_name(InstitutionMention(name="山西医科大学第二医院", aliases=("山大二院",)), {})
    record = new_record(base)
    assert record.aliases == ("山大二院",)
    short = resolve_name(InstitutionMention(name="山大二院"), {})
    assert match_institution(short, [record]) == record
    other = new_record(resolve_name(InstitutionMention(name="河津市医疗集团人民医院"), {}))
    spelled = resolve_name(
        InstitutionMention(name="河津市人民医院", aliases=("河津市医疗集团人民医院",)), {}
    )
    assert match_institution(spelled, [other]) == other
    assert "河津市人民医院" in merge_into(other, spelled).aliases


def test_the_rename_table_files_old_names_under_the_new_one() -> None:
    resolved = resolve_name(InstitutionMention(name="泸州医学院附属医院"), RENAMES)
    assert resolved.name == "西南医科大学附属医院"
    assert "泸州医学院附属医院" in resolved.aliases
    current = known("西南医科大学附属医院")
    assert match_institution(resolved, [current]) == current


def test_ids_are_stable_and_depend_on_county_only() -> None:
    assert institution_id("叙永县人民医院", InstitutionPlace()) == institution_id(
        "叙永县人民医院", InstitutionPlace(province="四川")
    )
    assert institution_id("中医医院", InstitutionPlace(county="叙永县")) == institution_id(
        "中医医院", InstitutionPlace(county="叙永")
    )
    assert institution_id("中医医院", InstitutionPlace(county="叙永县")) != institution_id(
        "中医医院", InstitutionPlace(county="古蔺县")
    )


def test_a_taken_id_gets_a_suffix() -> None:
    resolved = resolve_name(InstitutionMention(name="叙永县人民医院"), {})
    first = new_record(resolved)
    assert new_record(resolved, [first.id]).id == first.id + "-2"


def test_renamed_record_keeps_the_old_name_as_alias() -> None:
    old = known("泸州医学院附属医院")
    renamed = renamed_record(old, "西南医科大学附属医院")
    assert renamed.id == old.id
    assert renamed.name == "西南医科大学附属医院"
    assert "泸州医学院附属医院" in renamed.aliases


def test_the_best_placed_match_wins() -> None:
    vague = known("人民医院")
    placed = InstitutionRecord(
        id="i2",
        name="人民医院",
        key="人民医院",
        place=InstitutionPlace(province="四川", county="叙永县"),
    )
    mention = resolve_name(
        InstitutionMention(name="人民医院", province="四川省", county="叙永县"), {}
    )
    assert match_institution(mention, [vague, placed]) == placed
