from __future__ import annotations

from services.common.contracts import ChangeKind, EventType
from services.notify.channels.dingtalk import MAX_BYTES as DINGTALK_MAX_BYTES
from services.notify.channels.wecom import MAX_BYTES as WECOM_MAX_BYTES
from services.notify.domain.models import Alert, AlertType
from services.notify.domain.rendering import (
    confidence_label,
    cut_to_bytes,
    describe_changes,
    fold_digests,
    format_date,
    headline,
    render_digest,
    render_markdown,
    render_text,
    utf8_len,
    webhook_body,
)
from tests.unit.notify.factories import CHONGQING, HUAXI, NANBU, alliance, change, institution


def alert_for(**kwargs: object) -> Alert:
    body = alliance(**kwargs)  # type: ignore[arg-type]
    return Alert(type=AlertType.created, change_id="c1", alliance=body, occurred_at=body.first_seen)


def test_text_alert_tells_who_what_when_where_how_sure_and_from_where() -> None:
    subject, text = render_text(alert_for())
    assert subject == "【新医联体】四川大学华西医院牵头组建骨科专科联盟"
    for expected in (
        "类型：专科联盟",
        "专科：骨科",
        "牵头单位：四川大学华西医院（四川省成都市武侯区）",
        "成员单位（2家）：南充市中心医院、南部县人民医院",
        "时间：2024年4月28日",
        "地区：四川省成都市武侯区、四川省南充市顺庆区、四川省南充市南部县",
        "可信度：90%（高）",
        "原文摘录：「四川大学华西医院牵头",
        "1. 华西医院牵头成立骨科专科联盟（报道1）（2024年4月29日） https://news.example.cn/al-1/1.html",
    ):
        assert expected in text, expected


def test_headlines_by_kind() -> None:
    trustee = alert_for(type=EventType.trusteeship, specialty=None, members=(NANBU,))
    assert headline(trustee) == "【新医联体】四川大学华西医院托管南部县人民医院"
    county = alert_for(type=EventType.county_community, specialty=None, lead=())
    assert "组建县域医共体" in headline(county)
    cross = alert_for(members=(CHONGQING,), cross_province=True)
    assert "（跨省）" in render_text(cross)[1]


def test_dates_and_confidence_read_naturally() -> None:
    assert format_date("2024-05-01") == "2024年5月1日"
    assert format_date("2024-05") == "2024年5月"
    assert format_date(None) == "未注明"
    assert confidence_label(0.62) == "62%（中）"
    assert confidence_label(0.3) == "30%（低）"


def test_update_highlights_name_the_new_members_and_corrections() -> None:
    before = alliance(members=(NANBU,), type=EventType.consortium, date_="2024-04")
    after = alliance(members=(NANBU, CHONGQING), date_="2024-04-28")
    lines = describe_changes(change(alliance_=after, kind=ChangeKind.updated), before)
    assert "新增成员单位（1家）：重庆市黔江中心医院" in lines
    assert "类型更正：医联体 → 专科联盟" in lines
    assert "日期更正：2024年4月 → 2024年4月28日" in lines
    blind = describe_changes(
        change(alliance_=after, kind=ChangeKind.updated, changed_fields=("members",)), None
    )
    assert blind == ("更新内容：成员单位",)


def test_markdown_fits_wecom_even_for_huge_alliances() -> None:
    many = tuple(institution(f"第{n}人民医院附属医院分院", "四川省", "成都市") for n in range(400))
    big = alert_for(members=many, sources=30)
    title, text = render_markdown(big, WECOM_MAX_BYTES)
    assert utf8_len(text) <= WECOM_MAX_BYTES
    assert "等400家" in text and title.startswith("【新医联体】")
    assert text.endswith(
        "[查看证据（联盟详情与原文依据）](https://watch.example.cn/alliances/al-1)"
    )


def test_digests_fold_a_burst_and_drop_nothing() -> None:
    alerts = [alert_for(id=f"al-{n}") for n in range(45)]
    groups = fold_digests(alerts, WECOM_MAX_BYTES)
    assert sorted(i for g in groups for i in g) == list(range(45))
    assert len(groups) < 45
    for group in groups:
        _, text = render_digest([alerts[i] for i in group], WECOM_MAX_BYTES)
        assert utf8_len(text) <= WECOM_MAX_BYTES
        assert f"医联体动态汇总（{len(group)}条）" in text


def test_webhook_body_carries_type_and_the_alliance() -> None:
    body = webhook_body(alert_for())
    assert body["type"] == "alliance.created"
    assert body["alliance"]["id"] == "al-1"
    assert body["alliance"]["lead"][0]["name"] == HUAXI.name
    assert body["title"].startswith("【新医联体】")
    assert body["url"] == "https://watch.example.cn/alliances/al-1"
    assert body["alliance"]["url"] == body["url"]
    assert "查看证据：https://watch.example.cn/alliances/al-1" in body["text"]


EVIDENCE_MD = "[查看证据（联盟详情与原文依据）](https://watch.example.cn/alliances/al-1)"


def test_every_channel_links_to_the_alliance_page() -> None:
    alert = alert_for()
    _, text = render_text(alert)  # e-mail
    assert "\n查看证据：https://watch.example.cn/alliances/al-1\n" in text
    for limit in (DINGTALK_MAX_BYTES, WECOM_MAX_BYTES):  # the two robots
        _, markdown = render_markdown(alert, limit)
        assert markdown.endswith("\n\n" + EVIDENCE_MD)
    _, digest = render_digest([alert, alert_for(id="al-2")], WECOM_MAX_BYTES)
    assert "   [查看证据](https://watch.example.cn/alliances/al-1)" in digest
    assert "   [查看证据](https://watch.example.cn/alliances/al-2)" in digest


def test_without_a_page_there_is_no_link() -> None:
    alert = alert_for(url=None)
    assert "查看证据" not in render_text(alert)[1]
    assert "查看证据" not in render_markdown(alert, WECOM_MAX_BYTES)[1]
    assert "查看证据" not in render_digest([alert], WECOM_MAX_BYTES)[1]
    assert webhook_body(alert)["url"] is None


def test_wecom_truncation_keeps_the_link_and_whole_markdown() -> None:
    # Long highlights and a long excerpt leave no room even at the shortest form.
    huge = alert_for(sources=30)
    long_words = "新增成员单位：" + "、".join(f"第{n}人民医院" for n in range(600))
    alert = Alert(
        type=AlertType.updated,
        change_id="c2",
        alliance=huge.alliance,
        occurred_at=huge.occurred_at,
        highlights=(long_words,),
    )
    _, text = render_markdown(alert, WECOM_MAX_BYTES)
    assert utf8_len(text) <= WECOM_MAX_BYTES
    assert text.endswith(EVIDENCE_MD), "the evidence link survives the cut"
    # The 600 names are shortened in their line, which leaves room for the source links.
    highlight = next(line for line in text.split("\n") if line.startswith("> 新增成员单位"))
    assert highlight.endswith("…") and "](https://news.example.cn/al-1/1.html)" in text
    body = text.removesuffix(EVIDENCE_MD)
    assert body.count("[") == body.count("]") and body.count("(") == body.count(")")
    assert body.count("**") % 2 == 0


def test_cut_keeps_lines_whole_unless_plain() -> None:
    text = "### 标题\n- **类型**：专科联盟\n1. [很长的标题](https://a.example/x)\n尾"
    cut = cut_to_bytes(text, utf8_len("### 标题\n- **类型**：专科联盟\n1. [很长") + 5, marker="…")
    assert cut == "### 标题\n- **类型**：专科联盟…", cut
    plain = cut_to_bytes("### 标题\n" + "字" * 100, 60, marker="…")
    assert utf8_len(plain) <= 60 and plain.startswith("### 标题\n字字")
    bold = cut_to_bytes("- **成员单位**：" + "医院、" * 50, 40, marker="…")
    assert bold.startswith("- **成员单位**：医") and utf8_len(bold) <= 40
    assert cut_to_bytes("- **成员单位**：很多", 12, marker="…") == "…"
