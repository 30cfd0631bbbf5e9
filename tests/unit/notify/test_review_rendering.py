"""How an analyst's review reads in every channel: a correction's highlights, and a
retraction (【撤回】, why, where a merged alliance went) in e-mail, the robots' markdown,
digests, e-mail digests, the webhook's JSON and the portal's delivery log."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.contracts import EventType
from services.notify.channels.dingtalk import MAX_BYTES as DINGTALK_MAX_BYTES
from services.notify.channels.wecom import MAX_BYTES as WECOM_MAX_BYTES
from services.notify.domain.email_digest import render_email_digest
from services.notify.domain.models import Alert, AlertType
from services.notify.domain.periods import Cadence, latest_period
from services.notify.domain.rendering import (
    MERGED_NOTE,
    REJECTED_NOTE,
    REVIEW_NOTE,
    describe_corrections,
    headline,
    merged_page,
    render_digest,
    render_markdown,
    render_text,
    retraction_highlights,
    utf8_len,
    webhook_body,
)
from services.notify.entrypoints.portal.views import ALERT_TYPES
from tests.unit.notify.factories import (
    CHONGQING,
    HUAXI,
    NANBU,
    NANCHONG,
    SHANXI,
    alliance,
    correction,
    institution,
    merger,
    rejection,
)

SURVIVOR_PAGE = "https://watch.example.cn/alliances/al-7"


def retracted(merged_into: str | None = None, **kwargs: object) -> Alert:
    body = alliance(**kwargs)  # type: ignore[arg-type]
    change = merger("c-9", body, merged_into) if merged_into else rejection("c-9", body)
    return Alert(
        type=AlertType.retracted,
        change_id=change.change_id,
        highlights=retraction_highlights(change),
        alliance=body,
        occurred_at=change.occurred_at,
        by_review=True,
        merged_into=merged_into,
    )


# --- corrections ----------------------------------------------------------------------


def test_a_correction_says_a_person_corrected_it_and_how() -> None:
    before = alliance(
        lead=(HUAXI,), members=(NANCHONG, NANBU), type=EventType.consortium, date_="2024-04"
    )
    after = alliance(lead=(SHANXI, HUAXI), members=(NANBU, CHONGQING), specialty="骨科")
    lines = describe_corrections(correction("c-2", after, ("lead", "members")), before)
    assert lines == (
        REVIEW_NOTE,
        "牵头单位更正为：山西医科大学第二医院、四川大学华西医院",
        "成员单位更正：新增 重庆市黔江中心医院；移除 南充市中心医院",
        "类型更正：医联体 → 专科联盟",
        "日期更正：2024年4月 → 2024年4月28日",
    )


def test_a_lead_dropped_reads_as_the_lead_set_now_not_as_an_addition() -> None:
    before = alliance(lead=(HUAXI, NANCHONG), members=(NANBU,))
    after = alliance(lead=(HUAXI,), members=(NANBU,))
    lines = describe_corrections(correction("c-2", after, ("lead",)), before)
    assert lines == (REVIEW_NOTE, "牵头单位更正为：四川大学华西医院")


def test_a_member_made_lead_is_not_said_to_be_removed() -> None:
    before = alliance(lead=(HUAXI,), members=(NANCHONG, NANBU))
    after = alliance(lead=(HUAXI, NANCHONG), members=(NANBU,))
    lines = describe_corrections(correction("c-2", after, ("lead", "members")), before)
    assert lines == (REVIEW_NOTE, "牵头单位更正为：四川大学华西医院、南充市中心医院")


def test_without_the_state_before_a_correction_names_the_fields() -> None:
    after = alliance(lead=(NANCHONG,))
    lines = describe_corrections(correction("c-2", after, ("lead", "members[2]", "sources")), None)
    assert lines == (
        REVIEW_NOTE,
        "更正内容：牵头单位、成员单位、来源报道",
        "牵头单位更正为：南充市中心医院",
    )


def test_a_correction_of_nothing_material_names_what_the_analyst_touched() -> None:
    before = alliance(confidence=0.7)
    after = alliance(confidence=1.0, sources=2)
    lines = describe_corrections(correction("c-2", after, ("confidence", "sources")), before)
    assert lines == (REVIEW_NOTE, "更正内容：可信度、来源报道")


def test_a_corrected_alert_is_titled_as_a_correction() -> None:
    body = alliance()
    fix = Alert(
        type=AlertType.updated,
        change_id="c-2",
        highlights=(REVIEW_NOTE,),
        alliance=body,
        occurred_at=body.first_seen,
        by_review=True,
    )
    assert headline(fix) == "【医联体更正】四川大学华西医院牵头组建骨科专科联盟"
    assert headline(fix.model_copy(update={"by_review": False})).startswith("【医联体动态更新】")
    assert render_text(fix)[1].split("\n")[2] == REVIEW_NOTE


# --- retractions ----------------------------------------------------------------------


def test_a_rejection_by_e_mail() -> None:
    subject, text = render_text(retracted())
    assert subject == "【撤回】四川大学华西医院牵头组建骨科专科联盟"
    lines = text.split("\n")
    assert lines[2] == REJECTED_NOTE
    assert "撤回前的条目内容：" in lines
    assert "查看证据：https://watch.example.cn/alliances/al-1" in lines
    assert "查看合并后的记录" not in text


def test_a_merge_by_e_mail_links_to_the_record_it_went_into() -> None:
    _, text = render_text(retracted("al-7"))
    assert f"{MERGED_NOTE}\n合并后的记录编号：al-7\n查看合并后的记录：{SURVIVOR_PAGE}\n" in text


def test_the_survivors_page_is_built_only_from_a_page_of_the_registrys_form() -> None:
    assert merged_page(retracted("al-7")) == SURVIVOR_PAGE
    assert merged_page(retracted("al 8/x")) == "https://watch.example.cn/alliances/al%208%2Fx"
    assert merged_page(retracted("al-7", url=None)) is None
    assert merged_page(retracted("al-7", url="https://elsewhere.example/page")) is None
    assert merged_page(retracted()) is None


def test_a_retraction_on_the_robots_keeps_both_links_within_their_limits() -> None:
    many = tuple(institution(f"第{n}人民医院附属医院分院", "四川省", "成都市") for n in range(400))
    for limit in (WECOM_MAX_BYTES, DINGTALK_MAX_BYTES):
        for alert in (retracted("al-7"), retracted("al-7", members=many, sources=30)):
            title, text = render_markdown(alert, limit)
            assert title.startswith("【撤回】")
            assert utf8_len(text) <= limit
            assert f"> {MERGED_NOTE}" in text
            assert text.endswith(
                "\n\n[查看证据（联盟详情与原文依据）](https://watch.example.cn/alliances/al-1)"
                f"\n[查看合并后的记录]({SURVIVOR_PAGE})"
            )
    _, rejected = render_markdown(retracted(), WECOM_MAX_BYTES)
    assert f"> {REJECTED_NOTE}" in rejected and "撤回前的条目内容：" in rejected


def test_a_retraction_in_a_robot_digest() -> None:
    news = retracted().model_copy(update={"type": AlertType.created, "highlights": ()})
    _, digest = render_digest([news, retracted("al-7", id="al-2")], WECOM_MAX_BYTES)
    assert "1. **【新医联体】" in digest
    assert "2. **【撤回】四川大学华西医院牵头组建骨科专科联盟**" in digest
    assert f"   {MERGED_NOTE}" in digest
    assert f"   [查看合并后的记录]({SURVIVOR_PAGE})" in digest


def test_a_retraction_in_an_e_mail_digest() -> None:
    period = latest_period(Cadence.daily, datetime(2024, 5, 2, 12, tzinfo=UTC), 8)
    mail = render_email_digest(
        [retracted(), retracted("al-7", id="al-2")], period, "https://n.example/u"
    )
    assert "  - 【撤回】四川大学华西医院牵头组建骨科专科联盟" in mail.text
    assert f"    {REJECTED_NOTE}" in mail.text
    assert f"    查看合并后的记录：{SURVIVOR_PAGE}" in mail.text
    assert f'<a href="{SURVIVOR_PAGE}">查看合并后的记录</a>' in mail.html


def test_the_webhook_carries_the_retraction_and_where_it_went() -> None:
    merged = webhook_body(retracted("al-7"))
    assert merged["type"] == "alliance.retracted"
    assert merged["by_review"] is True
    assert merged["merged_into"] == "al-7"
    assert merged["merged_into_url"] == SURVIVOR_PAGE
    assert merged["title"].startswith("【撤回】")
    rejected = webhook_body(retracted())
    assert rejected["merged_into"] is None and rejected["merged_into_url"] is None
    assert rejected["highlights"] == [REJECTED_NOTE]
    created = webhook_body(retracted().model_copy(update={"type": AlertType.created}))
    assert "merged_into" not in created and created["by_review"] is True


def test_the_portal_names_every_alert_type() -> None:
    assert set(ALERT_TYPES) == set(AlertType)
    assert ALERT_TYPES[AlertType.retracted] == "医联体撤回"
