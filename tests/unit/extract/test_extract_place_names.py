"""Institution names built on admin-division names that contain stop words, read like dates or
generic words, or carry characters OpenCC t2s rewrites; and the synthetic-article check."""

from __future__ import annotations

import datetime as dt

import pytest
from extract_testlib import pairs, run

from services.extract.extraction import ArticleInput, extract
from services.extract.extraction.institutions import level_of
from services.extract.extraction.mentions import find_mentions
from services.extract.extraction.name_rules import is_generic
from services.extract.extraction.places import Place
from services.extract.extraction.text import is_traditional, normalise, to_simplified
from tools.articles import generate


def names(text: str) -> list[str]:
    return [m.name for m in find_mentions(text) if m.kind == "name" and not m.plural]


# ------------------------------------------------ stop characters inside long autonomous names
@pytest.mark.parametrize(
    "name",
    [
        "印江土家族苗族自治县人民医院",  # 家 inside 土家族
        "五峰土家族自治县中医医院",
        "长阳土家族自治县人民医院",
        "延边朝鲜族自治州人民医院",  # 朝
        "前郭尔罗斯蒙古族自治县人民医院",  # 前 at the start
        "察哈尔右翼后旗人民医院",  # 后
        "科尔沁左翼中旗人民医院",
        "和布克赛尔蒙古自治县人民医院",  # 和 at the start
        "积石山保安族东乡族撒拉族自治县人民医院",
    ],
)
def test_long_autonomous_names_are_not_cut_at_stop_characters(name: str) -> None:
    assert names(f"近日，宜昌市中心医院与{name}签约，共建骨科专科联盟。") == [
        "宜昌市中心医院",
        name,
    ]


def test_stop_word_inside_a_banner_name_is_kept() -> None:
    # 联合 (a verb elsewhere) inside 达尔罕茂明安联合旗; 管理 inside 汉沽管理区
    assert (
        names("包头市中心医院与达尔罕茂明安联合旗人民医院签约。")[1] == "达尔罕茂明安联合旗人民医院"
    )
    assert names("唐山市汉沽管理区医院加入唐山市人民医院医联体。")[0] == "唐山市汉沽管理区医院"


def test_two_character_county_starting_with_a_conjunction() -> None:
    assert names("马鞍山市人民医院与和县人民医院签约。") == ["马鞍山市人民医院", "和县人民医院"]
    # a real conjunction between two names stays a boundary
    assert names("阜阳市人民医院和县人民医院签约。") == ["阜阳市人民医院", "县人民医院"]


# ------------------------------------------------ places that begin like a date or a filler
@pytest.mark.parametrize("name", ["日喀则市人民医院", "日照市中医医院", "原平市人民医院"])
def test_place_starting_with_a_date_character_is_not_trimmed(name: str) -> None:
    assert names(f"5月3日{name}与某县人民医院签约。")[0] == name
    assert names(f"3日，{name}牵头成立眼科专科联盟。") == [name]


# ------------------------------------------------ places that read like generic words
@pytest.mark.parametrize(
    "name", ["晋城市人民医院", "任城区人民医院", "新城区人民医院", "云城区中医医院"]
)
def test_named_place_is_never_generic(name: str) -> None:
    suffix = "中医医院" if name.endswith("中医医院") else "医院"
    assert not is_generic(name, suffix)
    assert names(f"济宁市第一人民医院与{name}签约。")[-1] == name


def test_generic_references_still_dropped() -> None:
    assert names("城市医院与县级医院、乡镇卫生院签约。") == []


def test_city_district_ranks_below_the_city() -> None:
    place = Place()
    assert level_of("晋城市城区人民医院", place) < level_of("恩施土家族苗族自治州中心医院", place)
    assert level_of("密云区医院", place) > level_of("滦平县医院", place)  # a district of Beijing
    assert level_of("四川阿坝州理县人民医院", place) == level_of("滦平县医院", place)
    assert level_of("成都军区总医院", place) > level_of("四川省人民医院", place)


def test_lead_named_in_another_clause_of_the_sentence() -> None:
    r = run(
        "6月1日，日照市人民医院与晋城市人民医院举行医联体签约仪式，晋城市人民医院作为牵头单位派专家坐诊。"
    )
    assert pairs(r) == {("晋城市人民医院", "日照市人民医院")}


# ------------------------------------------------ script detection before t2s
def test_simplified_text_is_not_converted() -> None:
    text = "松原市中心医院与乾安县人民医院签约，乾县人民医院于同日加入"
    assert not is_traditional(text)
    assert to_simplified(text) == text  # t2s alone would give 干安县 and 于


def test_traditional_text_is_converted_and_keeps_place_names() -> None:
    text = "松原市中心醫院與乾安縣人民醫院簽約，咸陽市中心醫院與乾縣人民醫院簽約"
    assert is_traditional(text)
    assert (
        to_simplified(text)
        == "松原市中心医院与乾安县人民医院签约，咸阳市中心医院与乾县人民医院签约"
    )


def test_traditional_name_quoted_in_simplified_text() -> None:
    text = "深圳市人民医院与香港養和醫院签约，乾坤未定"
    assert to_simplified(text) == "深圳市人民医院与香港养和医院签约，乾坤未定"


def test_title_and_body_share_the_script_decision() -> None:
    norm = normalise(
        "乾安县人民医院加入松原市中心医院骨科专科联盟。", title="乾安县人民医院加入联盟"
    )
    assert "干" not in norm.text


# ------------------------------------------------ whole articles, as lead and as member
@pytest.mark.parametrize(
    ("lead", "member"),
    [
        ("恩施土家族苗族自治州中心医院", "鹤峰县人民医院"),
        ("宜昌市中心医院", "长阳土家族自治县人民医院"),
        ("呼伦贝尔市人民医院", "鄂温克族自治旗人民医院"),
        ("湖北省人民医院", "神农架林区人民医院"),
        ("阿拉善盟中心医院", "阿拉善左旗人民医院"),
        ("日喀则市人民医院", "亚东县人民医院"),
        ("晋城市人民医院", "沁水县人民医院"),
        ("铜仁市人民医院", "印江土家族苗族自治县人民医院"),
    ],
)
def test_minority_region_names_survive_in_either_role(lead: str, member: str) -> None:
    as_lead = run(f"5月20日上午，{member}正式加入由{lead}牵头组建的儿科专科联盟。")
    assert pairs(as_lead) == {(lead, member)}
    as_member = run(f"5月20日，{lead}与{member}签订协议，{member}作为成员单位加入{lead}医联体。")
    assert pairs(as_member) == {(lead, member)}
    # the county / banner / forest district hospital leads its own township centres
    county_led = run(f"5月20日，{member}与城关镇卫生院签约，组建紧密型县域医共体。")
    assert pairs(county_led) == {(member, "城关镇卫生院")}


def test_synthetic_articles_are_read_exactly() -> None:
    total = exact = 0
    for a in generate(300, seed=11):
        total += 1
        r = extract(
            ArticleInput(
                body=a.body, title=a.title, published=dt.date.fromisoformat(a.published_at)
            )
        )
        ev = r.events
        if (
            len(ev) == 1
            and [i.name for i in ev[0].lead] == [a.lead]
            and [i.name for i in ev[0].members] == [a.member]
        ):
            exact += 1
    assert exact >= 0.99 * total
