"""Writing styles beyond the seeds and the dev set: phone-article short lines, numbered and
table lists, labelled fields, parenthesised second names, role nouns, relative dates."""

import datetime as dt

from extract_testlib import pairs, run

from services.common.contracts import EventType
from services.extract.extraction.dates import find_dates
from services.extract.extraction.mentions import find_mentions
from services.extract.extraction.text import normalise


def iso(text: str, ref: dt.date) -> list[str | None]:
    return [d.iso() for d in find_dates(text, ref)]


def test_part_of_month_and_weekday_dates() -> None:
    ref = dt.date(2024, 4, 15)  # a Monday
    assert iso("3月初,两院签约", ref) == ["2024-03"]
    assert iso("12月下旬,两院签约", ref) == ["2023-12"]
    assert iso("上周五,两院签约", ref) == ["2024-04-12"]
    assert iso("上周,两院签约", ref) == ["2024-04"]
    assert iso("3个月内", ref) == []


def test_day_in_parentheses() -> None:
    assert iso("昨日(7日)与某院签约", dt.date(2023, 2, 8))[-1] == "2023-02-07"
    assert iso("前日(十五日)举行签约仪式", dt.date(2023, 6, 17)) == ["2023-06-15"]
    assert iso("今(30)日签署", dt.date(2022, 10, 1)) == ["2022-09-30"]


def test_parenthesised_second_name_is_the_same_institution() -> None:
    result = run(
        "5月12日,云南省第一人民医院(昆明理工大学附属医院)与禄劝县人民医院签订紧密型医联体协议。",
        "2023-05-15",
    )
    (ev,) = result.events
    assert len(ev.lead) == 1 and [m.name for m in ev.members] == ["禄劝县人民医院"]
    assert {ev.lead[0].name, *ev.lead[0].aliases} == {"云南省第一人民医院", "昆明理工大学附属医院"}


def test_county_names_are_not_cut_at_inner_county_names() -> None:
    names = [
        m.name for m in find_mentions("分别为太和县中医院(太和县中西医结合医院)和临泉县人民医院。")
    ]
    assert names == ["太和县中医院", "太和县中西医结合医院", "临泉县人民医院"]


def test_town_names_containing_admin_characters() -> None:
    names = [m.name for m in find_mentions("为新市镇卫生院、开福区伍家岭街道社区卫生服务中心授牌")]
    assert names == ["新市镇卫生院", "开福区伍家岭街道社区卫生服务中心"]


def test_role_noun_declared_in_parentheses() -> None:
    result = run(
        "8月3日,某县医共体分院揭牌仪式举行,医共体总院(德清县人民医院)领导出席。\n"
        "仪式上,医共体总院为新市镇卫生院、钟管镇卫生院授予医共体分院牌匾。",
        "2021-08-05",
    )
    assert pairs(result) == {("德清县人民医院", "新市镇卫生院"), ("德清县人民医院", "钟管镇卫生院")}
    assert result.events[0].type is EventType.county_community


def test_phone_article_short_lines_are_joined() -> None:
    body = "\n".join(
        [
            "苍南县人民医院",
            "",
            "重磅喜讯!",
            "我院正式加入",
            "温州医科大学附属第二医院",
            "儿科专科联盟啦!",
            "",
            "6月20日下午",
            "温州医科大学附属第二医院",
            "儿科专科联盟授牌仪式",
            "在我院隆重举行",
            "",
            "专家定期来我院坐诊",
            "患儿转诊更方便",
            "医生免费进修学习",
            "远程会诊足不出县",
        ]
    )
    text = normalise(body).text
    assert "我院正式加入温州医科大学附属第二医院儿科专科联盟啦!" in text
    result = run(body, "2024-06-21")
    assert pairs(result) == {("温州医科大学附属第二医院", "苍南县人民医院")}
    assert result.events[0].date == "2024-06-20"


def test_numbered_and_table_rows_after_an_introduction() -> None:
    body = (
        "11月27日,由浙江省中医院牵头组建的浙江省针灸专科联盟成立。首批成员单位名单如下:\n"
        "1. 湖州市中医院\n2. 嘉兴市中医医院\n"
        "本次授牌的单位如下:\n序号 单位名称 所在地区 医院等级\n3 绍兴市中医院 绍兴市 三级\n"
        "联盟将开展针灸技术推广。"
    )
    result = run(body, "2021-11-30")
    assert pairs(result) == {
        ("浙江省中医院", "湖州市中医院"),
        ("浙江省中医院", "嘉兴市中医医院"),
        ("浙江省中医院", "绍兴市中医院"),
    }


def test_labelled_lead_and_member_fields() -> None:
    body = (
        "关于公布第一批城市医疗集团名单的通知\n经研究,同意组建以下城市医疗集团,现将名单公布如下:\n"
        "一、长沙市第一医院城市医疗集团\n牵头医院:长沙市第一医院\n成员单位:开福区第一人民医院、天心区人民医院\n"
    )
    result = run(body, "2023-12-05")
    assert pairs(result) == {
        ("长沙市第一医院", "开福区第一人民医院"),
        ("长沙市第一医院", "天心区人民医院"),
    }
    assert result.events[0].type is EventType.medical_group


def test_members_before_the_lead_and_council_members() -> None:
    result = run(
        "由山东省立医院牵头成立的山东省胸痛专科联盟昨日成立。淄博市中心医院、东营市人民医院等28家医院"
        "成为联盟首批理事单位。",
        "2021-08-20",
    )
    assert pairs(result) == {("山东省立医院", "淄博市中心医院"), ("山东省立医院", "东营市人民医院")}


def test_bare_alliance_word_takes_the_article_type() -> None:
    result = run(
        "江西省儿科专科联盟成立\n近日,联盟成立大会召开。联盟由江西省儿童医院牵头,首批成员单位包括"
        "赣州市妇幼保健院、九江市第一人民医院等。",
        "2019-12-16",
    )
    assert result.events and result.events[0].type is EventType.specialty_alliance


def test_recruitment_notice_is_not_an_event() -> None:
    result = run(
        "岳池县人民医院医共体公开招聘编外工作人员公告\n岳池县人民医院医共体(总院:岳池县人民医院;"
        "分院:九龙镇中心卫生院)面向社会公开招聘工作人员。",
        "2023-03-02",
    )
    assert not result.relevant


def test_plaque_giver_leads_members_named_with_including() -> None:
    result = run(
        "会上,中日友好医院为包括延边大学附属医院在内的15家新成员单位授牌,国家呼吸专科联盟再扩容。",
        "2021-09-01",
    )
    assert pairs(result) == {("中日友好医院", "延边大学附属医院")}
