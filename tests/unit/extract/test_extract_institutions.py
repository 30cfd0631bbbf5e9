from services.extract.extraction.identity import same_institution
from services.extract.extraction.institutions import resolve
from services.extract.extraction.mentions import find_mentions
from services.extract.extraction.places import PlaceContext, find_place_names


def names(text: str) -> list[str]:
    return [m.name for m in find_mentions(text) if m.kind == "name" and not m.plural]


def institutions(text: str) -> dict[str, str]:
    """mention name -> canonical institution name."""
    ctx = PlaceContext(find_place_names(text))
    res = resolve(text, find_mentions(text), ctx)
    return {m.name: res.institutions[m.inst].name for m in res.mentions if m.inst >= 0}


def test_names_bounded_by_function_words_and_verbs() -> None:
    text = "2018年7月29日,广汉市第二人民医院正式与陕西省西安市红会医院携手建立骨科专科联盟"
    assert names(text) == ["广汉市第二人民医院", "陕西省西安市红会医院"]


def test_slogan_before_place_is_trimmed() -> None:
    assert names("紧密型帮扶共促健康桂林市中西医结合医院与灵川县中医医院组建医联体") == [
        "桂林市中西医结合医院",
        "灵川县中医医院",
    ]


def test_generic_references_dropped() -> None:
    text = "三级医院与基层医院、乡镇卫生院以及省外三甲综合医院和九家上海中医药大学附属医院合作"
    assert names(text) == []


def test_place_names_with_stop_characters() -> None:
    assert names("与成都市第一人民医院、于都县人民医院和平和县医院签约") == [
        "成都市第一人民医院",
        "于都县人民医院",
        "平和县医院",
    ]


def test_town_names_after_list_comma() -> None:
    assert names("到沙河乡卫生院、曾店镇卫生院、六都寨镇卫生院揭牌") == [
        "沙河乡卫生院",
        "曾店镇卫生院",
        "六都寨镇卫生院",
    ]


def test_shared_suffix_list_expanded() -> None:
    text = "大彭镇卫生院和驿城、文沃、焦山3个社区卫生服务中心为基层分院"
    assert names(text) == [
        "大彭镇卫生院",
        "驿城社区卫生服务中心",
        "文沃社区卫生服务中心",
        "焦山社区卫生服务中心",
    ]


def test_a_kind_of_institution_does_not_share_the_next_ones_suffix() -> None:
    assert names("将县域内的县级医疗机构和乡镇卫生院组成一家人") == []


def test_a_verb_of_building_is_not_part_of_the_name() -> None:
    assert names("今年还将开建市儿童医院和市中医医院") == ["市儿童医院", "市中医医院"]
    assert names("筹建市妇幼保健院") == ["市妇幼保健院"]


def test_abbreviation_by_subsequence() -> None:
    assert same_institution("山大二院", "山西医科大学第二医院")
    assert same_institution("西南医大附院", "西南医科大学附属医院")
    assert not same_institution("灵川县医院", "灵川县中医医院")
    assert not same_institution("天津市肿瘤医院德州分院", "天津市肿瘤医院")


def test_admin_relative_names() -> None:
    assert same_institution("县二医院", "金堂县第二人民医院")
    assert not same_institution("县二医院", "金堂县第四人民医院")
    assert same_institution("市二医院", "广汉市第二人民医院")


def test_aliases_resolved_in_article() -> None:
    text = (
        "河津市医疗集团人民医院与山西医科大学第二医院签约。山大二院骨科主任讲话。"
        "陕西省西安市红会医院与西安市红会医院。"
    )
    found = institutions(text)
    assert found["山大二院"] == "山西医科大学第二医院"
    assert found["陕西省西安市红会医院"] == "西安市红会医院"


def test_declared_alias() -> None:
    text = "川北医学院附属医院(以下简称“川北医附院”)与蓬安县中医医院签约。川北医附院将派出专家。"
    found = institutions(text)
    assert found["川北医附院"] == "川北医学院附属医院"


def test_relative_name_expanded_with_home_place() -> None:
    text = "云梦县卫健局介绍,县人民医院与云梦县各乡镇卫生院组建医共体。"
    assert institutions(text)["县人民医院"] == "云梦县人民医院"


def test_county_government_resolves_to_its_hospital() -> None:
    text = "西南医科大学附属医院与叙永县人民政府签署协议。叙永县人民医院院长出席。"
    ctx = PlaceContext(find_place_names(text))
    res = resolve(text, find_mentions(text), ctx)
    gov = [m for m in res.mentions if m.kind == "gov"]
    assert len(gov) == 1 and res.institutions[gov[0].inst].name == "叙永县人民医院"


def test_plaque_names_marked() -> None:
    text = "北京航天中心医院为富源县中医医院颁发了“航天中心医院远程医疗协作医院”牌匾"
    mentions = [m for m in find_mentions(text) if m.kind == "name"]
    assert [m.name for m in mentions if not m.plaque] == ["北京航天中心医院", "富源县中医医院"]
    assert all(m.plaque for m in mentions if m.start > text.index("“"))


def test_health_stations_are_institutions() -> None:
    # 卫生所: a township or village health station (and Taiwan's township clinics)
    assert names("台北荣民总医院与宜兰县员山乡卫生所、沙河乡卫生所签署合作协议") == [
        "台北荣民总医院",
        "宜兰县员山乡卫生所",
        "沙河乡卫生所",
    ]


def test_an_alliance_named_by_its_kind_is_not_an_institution() -> None:
    # "紧密型城市医疗集团" names the alliance being formed, not a party to it
    assert names("湛江中心人民医院牵头的湛江市紧密型城市医疗集团挂牌,成员包括麻章区人民医院") == [
        "湛江中心人民医院",
        "麻章区人民医院",
    ]


def test_places_sharing_one_kind_of_hospital_are_one_hospital_each() -> None:
    assert names("与修水县、武宁县、永修县三县人民医院签约") == [
        "修水县人民医院",
        "武宁县人民医院",
        "永修县人民医院",
    ]
    assert names("与修水、武宁、永修三县人民医院签约") == [
        "修水县人民医院",
        "武宁县人民医院",
        "永修县人民医院",
    ]
    assert names("南昌市、九江市两市中医院") == ["南昌市中医院", "九江市中医院"]
    # without a count, two items are a place and a hospital
    assert names("与九江市和修水县人民医院签约") == ["修水县人民医院"]


def test_a_general_hospital_written_short_is_that_hospital() -> None:
    # Taiwan writes 三军总医院 as 三总, 荣民总医院 as 荣总; 三总澎湖分院 is a branch of 三军总医院
    assert same_institution("三总", "三军总医院") and same_institution("荣总", "台北荣民总医院")
    assert not same_institution("三总", "上海市第一人民医院")
    text = "澎湖县政府今天与三军总医院签订策略联盟。陈光复感谢三总澎湖分院对于地方的协助。"
    res = resolve(text, find_mentions(text), PlaceContext(find_place_names(text)))
    by_name = {i.name: i for i in res.institutions}
    parent = by_name["三总澎湖分院"].branch_of
    assert parent is not None and res.institutions[parent].name == "三军总医院"


def test_a_countys_hospital_written_without_its_county_suffix() -> None:
    assert same_institution("湄潭医院", "湄潭县人民医院")
    assert not same_institution("湄潭医院", "湄潭县中医院")
    assert not same_institution("北京医院", "北京市人民医院")
