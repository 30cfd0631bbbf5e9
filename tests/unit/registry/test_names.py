"""Institution names: cleaning, admin-division prefixes, provinces, the rename table."""

from __future__ import annotations

import pytest

from services.registry.domain.names import (
    apply_renames,
    clean_name,
    division_short,
    name_key,
    province_short,
    strip_admin_prefix,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("陕西省西安市红会医院", "西安市红会医院"),
        ("西安市红会医院", "西安市红会医院"),
        ("陕西西安市红会医院", "西安市红会医院"),
        ("四川省泸州市叙永县人民医院", "叙永县人民医院"),
        ("泸州市叙永县人民医院", "叙永县人民医院"),
        ("泸州市泸县人民医院", "泸县人民医院"),
        ("广西壮族自治区桂林市中西医结合医院", "桂林市中西医结合医院"),
        # A province or city that is part of the name itself stays.
        ("陕西省人民医院", "陕西省人民医院"),
        ("四川大学华西医院", "四川大学华西医院"),
        ("山西医科大学第二医院", "山西医科大学第二医院"),
        ("上海市第六人民医院", "上海市第六人民医院"),
        ("河津市医疗集团人民医院", "河津市医疗集团人民医院"),
        ("广汉市第二人民医院", "广汉市第二人民医院"),
        ("南充市中医医院", "南充市中医医院"),
        ("成都市城市医疗集团", "成都市城市医疗集团"),
    ],
)
def test_name_key_strips_only_redundant_divisions(name: str, key: str) -> None:
    assert name_key(name) == key


def test_the_stripped_province_is_reported() -> None:
    assert strip_admin_prefix("陕西省西安市红会医院") == ("西安市红会医院", "陕西")
    assert strip_admin_prefix("西安市红会医院") == ("西安市红会医院", None)


def test_cleaning_removes_spaces_and_decoration_and_unifies_width() -> None:
    assert clean_name(" 西安市 红会医院 ") == "西安市红会医院"
    assert clean_name("“西安市红会医院”") == "西安市红会医院"
    assert clean_name("ＡＢＣ医院（北院）") == "ABC医院(北院)"


@pytest.mark.parametrize(
    ("value", "short"),
    [
        ("陕西省", "陕西"),
        ("陕西", "陕西"),
        ("广西壮族自治区", "广西"),
        ("广西", "广西"),
        ("北京市", "北京"),
        ("内蒙古自治区", "内蒙古"),
        ("新疆", "新疆"),
        (None, None),
        ("", None),
    ],
)
def test_province_short(value: str | None, short: str | None) -> None:
    assert province_short(value) == short


def test_division_short() -> None:
    assert division_short("西安市") == division_short("西安") == "西安"
    assert division_short("叙永县") == "叙永"
    assert division_short("凉山彝族自治州") == "凉山彝族"
    assert division_short(None) is None


def test_renames_follow_chains_and_stop_on_cycles() -> None:
    table = {name_key("泸州医学院附属医院"): "西南医科大学附属医院"}
    assert apply_renames("泸州医学院附属医院", table) == "西南医科大学附属医院"
    assert apply_renames(" 泸州医学院附属医院 ", table) == "西南医科大学附属医院"
    assert apply_renames("叙永县人民医院", table) == "叙永县人民医院"
    chain = {"甲医院": "乙医院", "乙医院": "丙医院"}
    assert apply_renames("甲医院", chain) == "丙医院"
    cycle = {"甲医院": "乙医院", "乙医院": "甲医院"}
    assert apply_renames("甲医院", cycle) == "乙医院"
