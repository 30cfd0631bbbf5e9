import dataclasses

import pytest
from extract_testlib import pairs, run

from services.common.contracts import EventType
from services.extract.extraction import EXTRACTOR_VERSION, ArticleInput, extract
from services.extract.extraction.events import MAX_EVENTS
from services.extract.extraction.places import gazetteer


def test_result_contract() -> None:
    result = run("4月2日,济宁市第一人民医院与巨野县中医医院签订医联体协议。")
    assert result.extractor_version == EXTRACTOR_VERSION
    assert result.relevant
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.relevant = False  # type: ignore[misc]
    ev = result.events[0]
    assert result.text[ev.evidence.start : ev.evidence.end] == ev.evidence.text
    assert 0.0 <= ev.confidence <= 1.0


def test_specialty_alliance_with_roles_and_date() -> None:
    result = run(
        "6月3日,萍乡市人民医院正式加入湖南省儿童医院儿科专科联盟,双方举行了授牌仪式。", "2021-06-05"
    )
    (ev,) = result.events
    assert ev.type is EventType.specialty_alliance
    assert ev.specialty == "儿科"
    assert [m.name for m in ev.lead] == ["湖南省儿童医院"]
    assert [m.name for m in ev.members] == ["萍乡市人民医院"]
    assert ev.date == "2021-06-03"
    assert ev.cross_province and set(ev.provinces) == {"湖南", "江西"}
    assert ev.lead[0].province == "湖南" and ev.members[0].city == "萍乡市"


def test_trusteeship_direction() -> None:
    result = run("10月9日,南昌大学第一附属医院正式托管进贤县人民医院。", "2023-10-10")
    assert pairs(result) == {("南昌大学第一附属医院", "进贤县人民医院")}
    assert result.events[0].type is EventType.trusteeship


def test_several_events_in_one_article() -> None:
    text = (
        "2017年6月30日,兰州大学第一医院与舟曲县人民医院签订了《医联体协议》。\n"
        "2017年7月1日,兰州大学第一医院与迭部县人民医院签订了《医联体协议》。"
    )
    result = run(text, "2017-07-05")
    assert [e.date for e in result.events] == ["2017-06-30", "2017-07-01"]
    assert pairs(result) == {
        ("兰州大学第一医院", "舟曲县人民医院"),
        ("兰州大学第一医院", "迭部县人民医院"),
    }


def test_government_signing_resolved_to_hospital() -> None:
    text = (
        "4月22日,绵阳市中心医院与盐亭县人民政府紧密型医联体合作签约仪式举行。"
        "绵阳市中心医院将派专家到盐亭县人民医院坐诊。"
    )
    result = run(text, "2021-04-23")
    assert pairs(result) == {("绵阳市中心医院", "盐亭县人民医院")}
    assert result.events[0].type is EventType.tight_consortium


def test_lead_with_unnamed_members() -> None:
    result = run("5月8日,祁东县人民医院与辖区内18家乡镇卫生院组建紧密型县域医共体,并举行揭牌仪式。")
    (ev,) = result.events
    assert [m.name for m in ev.lead] == ["祁东县人民医院"] and ev.members == ()


@pytest.mark.parametrize(
    "text",
    [
        # later activity of an existing alliance
        "9月20日,宜州区人民医院医联体专家团队来到永和镇卫生院开展义诊,现场接诊群众200余人次。",
        # recalled history
        "2015年3月,岳阳市中心医院与华容县人民医院签约组建医联体。八年来两院合作不断深化。",
        # a state, not a formation
        "河津市人民医院在省人民医院的精心托管下,医疗技术、服务质量全面提升。",
        # a plan
        "我院将陆续与全省各县级医院签订医联体协议。",
        # elderly care
        "双河镇人民政府与双河镇卫生院签订敬老院托管协议,探索医养结合。",
        # family doctors
        "乡镇卫生院与村民签订家庭医生签约服务协议,签约率达到80%。",
        # anniversary
        "宜昌市中心人民医院与远安县人民医院医联体成立五周年座谈会召开。",
        # passing mention
        "作为贵州省人民医院医联体成员单位,石阡县中医医院可请省级专家远程诊断。",
    ],
)
def test_hard_negatives(text: str) -> None:
    result = run(text, "2023-09-21")
    assert not result.relevant and result.events == ()


def test_policy_document_is_not_an_event() -> None:
    text = (
        "关于印发城市医疗集团建设实施方案的通知\n一、工作目标\n由市第一人民医院牵头,联合城东社区卫生服务中心"
        "组建东部城市医疗集团。\n二、保障措施\n加强组织领导。"
    )
    assert not run(text).relevant


def test_a_plan_with_headings_and_no_report_before_them_is_not_an_event() -> None:
    text = (
        "东部城市医疗集团\n一、工作目标\n由市第一人民医院牵头,联合城东社区卫生服务中心"
        "组建东部城市医疗集团。\n二、保障措施\n加强组织领导。"
    )
    assert not run(text).relevant


def test_a_reported_formation_with_its_plan_attached_is_an_event() -> None:
    text = (
        "漳州市医院与平和县医院签约组建紧密型医联体\n"
        "3月5日,漳州市医院与平和县医院签约组建紧密型医联体,双方将在人才培养方面合作。\n"
        "附件:合作方案\n一、工作目标\n提升基层服务能力。\n二、保障措施\n加强组织领导。"
    )
    result = run(text)
    assert result.relevant
    assert pairs(result) == {("漳州市医院", "平和县医院")}


@pytest.mark.parametrize(
    "head",
    [
        # a latest-news box: other stories' headlines, their hospitals never named again
        "最新动态\n· 沧州市中心医院与南皮县人民医院签约共建医联体\n"
        "· 集贤县人民医院加入哈尔滨医科大学附属第二医院专科联盟\n漳州市医院与平和县医院签约组建紧密型医联体",
        # a subtitle naming the story's own hospitals is the story's
        "紧密型医联体揭牌\n漳州市医院与平和县医院签约",
    ],
    ids=["other stories' headlines", "the story's subtitle"],
)
def test_headlines_before_the_story_lend_it_only_its_own_parties(head: str) -> None:
    story = "3月5日,漳州市医院与平和县医院签约组建紧密型医联体,双方将在人才培养方面合作。"
    assert pairs(run(f"{head}\n{story}")) == {("漳州市医院", "平和县医院")}


def test_members_listed_paragraphs_after_the_founding_are_its_members() -> None:
    text = (
        "漳州市医院牵头成立漳州市心血管专科联盟\n"
        "3月5日,由漳州市医院牵头的漳州市心血管专科联盟成立大会召开。会上,市卫健委主任致辞。"
        "他指出,联盟的成立对提升基层心血管疾病诊治能力意义重大。随后,与会专家进行了学术交流。"
        "专家们就胸痛中心建设进行了深入讨论。"
        "据介绍,联盟首批成员单位包括平和县医院、南靖县医院、长泰区医院等12家医院。"
    )
    assert pairs(run(text)) == {
        ("漳州市医院", "平和县医院"),
        ("漳州市医院", "南靖县医院"),
        ("漳州市医院", "长泰区医院"),
    }


def test_traditional_html_input() -> None:
    html = (
        "<html><body><h1>漳州市醫院與平和縣醫院簽署緊密型醫聯體協議</h1>"
        "<p>11月10日上午,漳州市醫院與平和縣醫院緊密型醫聯體簽約揭牌儀式在平和縣醫院舉行,"
        "雙方將在學科建設、人才培養、遠程會診等方面開展合作。</p></body></html>"
    )
    result = extract(
        ArticleInput(
            body=html, content_type="text/html", published=__import__("datetime").date(2020, 11, 12)
        )
    )
    assert pairs(result) == {("漳州市医院", "平和县医院")}
    assert result.events[0].date == "2020-11-10"


def test_empty_input() -> None:
    result = run("")
    assert not result.relevant and result.text == ""


def test_at_most_fifty_events_an_article_the_most_confident_kept() -> None:
    g = gazetteer()
    cities = sorted(
        {
            d.name
            for ds in g.full.values()
            for d in ds
            if d.level == "C" and d.name.endswith("市") and len(d.name) == 3
        }
    )[:60]
    counties = sorted(
        {
            d.name
            for ds in g.full.values()
            for d in ds
            if d.level == "D" and d.name.endswith("县") and len(d.name) == 3
        }
    )[:60]
    pairs = [f"{c}中心医院和{k}人民医院" for c, k in zip(cities, counties, strict=True)]
    # twelve sentences of five parallel pairs each: sixty pairs, sixty leads
    body = "".join(
        f"5月8日,由{'、'.join(pairs[i : i + 5])}分别签署医联体协议。" for i in range(0, 60, 5)
    )
    result = run(body, "2023-05-09")
    assert result.truncated
    assert len(result.events) == MAX_EVENTS == 50
    confidences = [e.confidence for e in result.events]
    assert confidences == sorted(confidences, reverse=True)


def test_a_short_article_is_not_flagged_as_truncated() -> None:
    assert not run("4月2日,济宁市第一人民医院与巨野县中医医院签订医联体协议。").truncated


def test_a_sure_formation_is_relevant_even_when_its_parties_go_unnamed() -> None:
    from services.extract.extraction.api import analyse
    from services.extract.extraction.events import decide
    from services.extract.extraction.model import Logistic, Models

    body = "6月24日上午,两家医院缔结了心血管内科专科联盟,签订了联盟协议。"
    fx = analyse(ArticleInput(body=body)).features
    assert not fx.candidates  # nobody is named
    unsure = Logistic(-5.0, {})

    sure = decide(fx, Models(unsure, unsure, Logistic(5.0, {})))
    assert sure.relevant and sure.choices == ()
    assert not decide(fx, Models(unsure, unsure, unsure)).relevant
