"""Plain report styles: specialty names with a conjunction, agency datelines, city short
names. One rule a test, on sentences written for it."""

from extract_testlib import pairs, run

from services.common.contracts import EventType
from services.extract.extraction.institutions import level_of
from services.extract.extraction.places import Place


def test_specialty_name_with_a_conjunction_names_the_alliance_lead() -> None:
    # "关节与运动医学" / "呼吸与危重症医学": the 与 belongs to the specialty, not to a second party
    result = run(
        "5月6日,湖北省人民医院内分泌与代谢医学专科联盟成立大会在武汉召开。"
        "会上,首批成员单位名单公布,黄石市中心医院、孝感市中心医院等单位代表上台接受授牌。",
        "2023-05-08",
    )
    assert pairs(result) == {
        ("湖北省人民医院", "黄石市中心医院"),
        ("湖北省人民医院", "孝感市中心医院"),
    }
    assert result.events[0].type is EventType.specialty_alliance


def test_news_agency_dateline_does_not_date_the_event() -> None:
    result = run(
        "中新网兰州3月12日电 3月10日,兰州大学第一医院与天水市第一人民医院签署对口支援协议。",
        "2023-03-12",
    )
    (ev,) = result.events
    assert ev.date == "2023-03-10"


def test_city_short_name_ranks_a_hospital_at_city_level() -> None:
    # "昆明延安医院" starts with a city's short name: as high as a prefecture's hospital
    place = Place()
    assert level_of("昆明延安医院", place) == level_of("昭通市中心医院", place) == 3
    assert level_of("昆明延安医院", place) > level_of("富源县中医医院", place)
