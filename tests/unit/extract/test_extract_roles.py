"""Roles and structure: declared cores, joiners of an alliance already named, remote
networks, cited plans, renamed hospitals. One rule a test, on sentences written for it."""

from extract_testlib import pairs, run

from services.common.contracts import EventType
from services.extract.extraction import ArticleInput
from services.extract.extraction.identity import same_institution
from services.extract.extraction.mentions import find_mentions


def test_place_numerals_are_not_ordinals() -> None:
    # 四川 / 六安 / 三亚 / 九江 carry numerals that say nothing about the institution
    assert same_institution("省妇幼保健院", "四川省妇幼保健院")
    assert same_institution("华西医院", "四川大学华西医院")
    assert same_institution("市一院", "九江市第一人民医院")
    assert same_institution("市人民医院", "三亚市人民医院")
    assert not same_institution("市一院", "九江市第二人民医院")


def test_a_district_hospital_is_not_the_city_hospital() -> None:
    assert not same_institution("丽水市人民医院", "丽水市莲都区人民医院")
    assert not same_institution("市人民医院", "丽水市莲都区人民医院")


def test_relative_name_does_not_join_two_cities() -> None:
    result = run(
        "许昌市中医院牵头成立骨伤专科联盟\n9月2日,由许昌市中医院牵头的许昌市骨伤专科联盟成立大会在"
        "市中医院召开,禹州市中医院、长葛市中医院等成为首批成员单位。",
        "2022-09-05",
    )
    assert pairs(result) == {("许昌市中医院", "禹州市中医院"), ("许昌市中医院", "长葛市中医院")}


def test_university_faculty_chain_keeps_its_weak_stop_character() -> None:
    names = [
        m.name
        for m in find_mentions("当天,华中科技大学同济医学院附属同济医院与咸宁市中心医院签约。")
    ]
    assert names[0] == "华中科技大学同济医学院附属同济医院"


def test_counted_generic_and_election_verbs_are_not_names() -> None:
    names = [
        m.name for m in find_mentions("一个月内与两家县医院签约,会议选举市人民医院为理事长单位。")
    ]
    assert names == ["市人民医院"]


def test_council_roles() -> None:
    result = run(
        "丽水市中心医院医联体理事会成立\n4月8日,丽水市中心医院医联体理事会成立大会召开。"
        "大会选举产生首届理事会:丽水市中心医院为理事长单位,缙云县人民医院为副理事长单位,"
        "云和县人民医院、庆元县人民医院为理事单位。",
        "2022-04-10",
    )
    assert pairs(result) == {
        ("丽水市中心医院", "缙云县人民医院"),
        ("丽水市中心医院", "云和县人民医院"),
        ("丽水市中心医院", "庆元县人民医院"),
    }


def test_declared_core_hospital_leads_the_merger_in_the_next_clause() -> None:
    result = run(
        "5月6日,以芜湖市第一人民医院为核心医院,整合芜湖市第五人民医院、湾沚区医院组建医疗集团。",
        "2022-05-08",
    )
    assert pairs(result) == {
        ("芜湖市第一人民医院", "芜湖市第五人民医院"),
        ("芜湖市第一人民医院", "湾沚区医院"),
    }
    assert result.events[0].type is EventType.medical_group


def test_bare_joiners_join_the_previous_alliance() -> None:
    result = run(
        "6月3日,由贵州医科大学附属医院牵头的黔南州创伤救治联盟在都匀市人民医院成立。"
        "荔波县人民医院、独山县人民医院签约加入联盟。",
        "2022-06-05",
    )
    assert pairs(result) == {
        ("贵州医科大学附属医院", m) for m in ("都匀市人民医院", "荔波县人民医院", "独山县人民医院")
    }
    assert result.events[0].specialty == "创伤"


def test_article_alliance_type_for_a_members_first_agreement() -> None:
    result = run(
        "山东省立医院内分泌专科联盟菏泽片区签约\n3月1日,曹县人民医院、单县中心医院等6家单位与山东省立医院"
        "签订合作协议,成为联盟首批成员单位。",
        "2023-03-03",
    )
    (ev,) = result.events
    assert ev.type is EventType.specialty_alliance and ev.specialty == "内分泌"


def test_remote_centre_linking_townships() -> None:
    result = run(
        "4月2日,会泽县人民医院远程会诊中心正式启用,首批与娜姑镇卫生院、金钟街道社区卫生服务中心"
        "实现联网。",
        "2023-04-03",
    )
    (ev,) = result.events
    assert ev.type is EventType.remote_network
    assert [m.name for m in ev.members] == ["娜姑镇卫生院", "金钟街道社区卫生服务中心"]


def test_new_building_in_use_is_not_a_formation() -> None:
    assert not run("3月1日,某市中心医院新院区正式启用,门诊楼投入使用。", "2023-03-02").relevant


def test_trigger_that_only_dates_what_follows() -> None:
    result = run(
        "1月9日,桐柏县医共体分院挂牌仪式举行。挂牌仪式结束后,县人民医院专家在月河分院开展坐诊。",
        "2023-01-10",
    )
    assert not pairs(result)


def test_cited_plan_is_not_a_policy_document() -> None:
    result = run(
        "按照县政府印发的医共体建设方案,以正安县人民医院为总医院,格林镇卫生院、安场镇卫生院挂牌为分院。",
        "2023-01-10",
    )
    assert pairs(result) == {("正安县人民医院", "格林镇卫生院"), ("正安县人民医院", "安场镇卫生院")}


def _directed(body: str) -> dict[tuple[str, str], float]:
    """The ``directed`` pair feature (A gives to B) of every ordered pair of the article."""
    from services.extract.extraction.api import analyse

    found = analyse(ArticleInput(body=body))
    names = {i: found.article.insts[i].name for i in found.features.candidates}
    return {
        (names[a], names[b]): found.features.pair(a, b)["directed"]
        for a in names
        for b in names
        if a != b
    }


SIGNING = "6月2日,佛山市第二人民医院与佛山市中医院举行医联体建设签约仪式。"


def test_a_speaking_hospitals_elided_subject_gives_the_support() -> None:
    # Chinese drops the repeated subject: the vice-president's hospital is who supports.
    said = _directed(
        SIGNING
        + "佛山市中医院副院长王强介绍了医联体建设的意义,表示将为佛山市第二人民医院提供技术支持。"
    )
    assert said[("佛山市中医院", "佛山市第二人民医院")] > 0
    assert said[("佛山市第二人民医院", "佛山市中医院")] == 0


def test_support_given_by_someone_else_or_to_the_speaker_is_not_the_speakers() -> None:
    thanked = _directed(
        SIGNING
        + "佛山市第二人民医院院长李明表示,感谢佛山市中医院为佛山市第二人民医院提供技术支持。"
    )
    assert thanked[("佛山市第二人民医院", "佛山市中医院")] == 0
    helped = _directed(
        SIGNING + "佛山市第二人民医院院长李明表示,希望佛山市中医院给予佛山市第二人民医院技术指导。"
    )
    assert helped[("佛山市第二人民医院", "佛山市中医院")] == 0


def test_a_delegation_sent_on_a_support_errand_leads_those_it_visits() -> None:
    visit = (
        "3月5日,柳州市中医医院副院长张华带队分别到融安县中医医院、融水县中医医院洽谈对口支援事宜。"
    )
    said = _directed(visit)
    assert said[("柳州市中医医院", "融安县中医医院")] > 0
    assert said[("柳州市中医医院", "融水县中医医院")] > 0
    learning = _directed(
        "3月5日,融安县中医医院副院长张华带队到柳州市中医医院考察学习对口支援工作经验。"
    )
    assert learning[("融安县中医医院", "柳州市中医医院")] == 0


def test_members_of_one_list_share_the_fallback_pair() -> None:
    # no pair is sure, so the clause's best pair stands, and its list mates read exactly alike
    result = run(
        "7月9日,青海大学附属医院远程医学中心与玛沁县人民医院、班玛县人民医院建立远程会诊协作网。",
        "2023-07-10",
    )
    assert pairs(result) == {
        ("青海大学附属医院", "玛沁县人民医院"),
        ("青海大学附属医院", "班玛县人民医院"),
    }


def test_a_group_named_after_its_hospital_is_formed_by_it_from_what_it_consists_of() -> None:
    result = run(
        "10月10日,柳州市工人医院医疗集团成立,集团由柳州市工人医院、柳州市第四人民医院和鹿寨县人民医院组成。",
        "2023-10-12",
    )
    assert pairs(result) == {
        ("柳州市工人医院", "柳州市第四人民医院"),
        ("柳州市工人医院", "鹿寨县人民医院"),
    }
    assert result.events[0].type is EventType.medical_group


def test_members_given_plaques_join_the_alliance_the_article_names() -> None:
    result = run(
        "5月20日,湘雅二医院麻醉科专科联盟新成员授牌仪式举行,岳阳市中心医院、常德市第一人民医院获授牌。",
        "2023-05-21",
    )
    assert pairs(result) == {("湘雅二医院", "岳阳市中心医院"), ("湘雅二医院", "常德市第一人民医院")}
    unnamed = run(
        "5月20日,麻醉科专科联盟新成员授牌仪式举行,岳阳市中心医院、常德市第一人民医院获授牌。",
        "2023-05-21",
    )
    assert [list(e.lead) for e in unnamed.events] == [[]], (
        "no alliance named: its lead stays unnamed"
    )


def test_a_co_built_name_only_on_a_plaque_is_read_without_failing() -> None:
    # the plaque "中国科大附一院霍山医院" names a hospital built by another; only the plaque says so
    result = run(
        "2月18日,安徽省立医院托管的霍山县医院正式挂牌“中国科大附一院霍山医院”。", "2024-02-20"
    )
    assert pairs(result) == {("安徽省立医院", "霍山县医院")}
    assert result.events[0].type is EventType.trusteeship


def test_counted_co_leads_lead_together() -> None:
    result = run(
        "近日,武汉协和医院、武汉同济医院两家医院共同牵头成立湖北省罕见病联盟,省内45家医院加入。",
        "2023-09-05",
    )
    assert [sorted(lead.name for lead in e.lead) for e in result.events] == [
        ["武汉协和医院", "武汉同济医院"]
    ]
    assert pairs(result) == set(), "the 45 members go unnamed"


def test_the_date_of_an_earlier_agreement_is_not_the_events() -> None:
    result = run(
        "10月10日,对口帮扶协议签字仪式在北京举行。"
        "继8月10日与青海省卫生厅签署帮扶协议后,北京大学人民医院与青海省人民医院签署对口帮扶协议。",
        "2007-10-17",
    )
    assert [e.date for e in result.events] == ["2007-10-10"]


def test_allying_is_forming() -> None:
    # 結盟 (Taiwan's word for it, read through the traditional-to-simplified step)
    result = run(
        "中國醫藥大學附設醫院與台中市清水區童綜合醫院結盟,雙方將在轉診及教學方面合作。",
        "2023-09-05",
    )
    assert pairs(result) == {("中国医药大学附设医院", "台中市清水区童综合医院")}


def test_a_branch_unveiled_at_its_host_host_first() -> None:
    result = run("日前,安吉县中医医院医共体递铺分院在递铺街道社区卫生服务中心挂牌。", "2023-09-05")
    assert pairs(result) == {("安吉县中医医院", "递铺街道社区卫生服务中心")}
    assert result.events[0].type is EventType.county_community


def test_branches_unveiled_with_no_host_are_the_members() -> None:
    result = run("3月18日,长兴县人民医院医共体洪桥分院、李家巷分院同时揭牌成立。", "2023-09-05")
    assert pairs(result) == {
        ("长兴县人民医院", "长兴县人民医院医共体洪桥分院"),
        ("长兴县人民医院", "李家巷分院"),
    }
    hosted = run(
        "天津市肿瘤医院德州分院成立\n10月27日,天津市肿瘤医院德州分院在德州市第二人民医院举行揭牌仪式。",
        "2015-11-04",
    )
    assert pairs(hosted) == {("天津市肿瘤医院", "德州市第二人民医院")}, (
        "a branch with a host is the host"
    )


def test_a_hospitals_group_written_hospital_plus_group_is_that_hospital() -> None:
    result = run(
        "12月1日,首都医科大学附属北京儿童医院与保定市儿童医院签约,保定市儿童医院成为北京儿童医院集团成员医院。",
        "2023-12-05",
    )
    assert pairs(result) == {("首都医科大学附属北京儿童医院", "保定市儿童医院")}
    assert result.events[0].type is EventType.medical_group


def test_a_group_that_is_only_a_party_does_not_type_the_event() -> None:
    result = run(
        "3月22日,宁波市第一医院与象山县第一人民医院医疗健康集团签署合作协议,双方将在学科建设等方面深度合作。",
        "2023-03-23",
    )
    assert [e.type for e in result.events] == [EventType.other]


def test_a_province_named_hospital_leads_a_city_hospital() -> None:
    result = run(
        "近日,山西白求恩医院(山西医学科学院)与晋中市第一人民医院签订医联体合作协议。", "2023-03-23"
    )
    assert pairs(result) == {("山西白求恩医院", "晋中市第一人民医院")}


def test_a_second_formation_told_alike_is_a_second_event() -> None:
    result = run(
        "近日,江西省人民医院与南昌县人民医院签订医联体协议;同日,江西省儿童医院与进贤县人民医院签订儿科专科联盟协议。",
        "2023-12-05",
    )
    assert pairs(result) == {
        ("江西省人民医院", "南昌县人民医院"),
        ("江西省儿童医院", "进贤县人民医院"),
    }
    assert sorted(e.type.value for e in result.events) == ["consortium", "specialty_alliance"]


def test_a_trigger_used_as_an_attribute_reports_no_formation() -> None:
    # "A托管的B": the B that A already manages; its anniversary is no new alliance
    assert not run(
        "10月8日,武汉大学人民医院托管的鄂州市中心医院迎来托管一周年。", "2023-10-09"
    ).relevant
    formed = run(
        "6月3日,由广东省人民医院牵头组建的广东省心血管病专科联盟在广州成立,佛山市第一人民医院加入联盟。",
        "2023-06-05",
    )
    assert pairs(formed) == {("广东省人民医院", "佛山市第一人民医院")}
