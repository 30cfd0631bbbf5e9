"""The sample alliance of a test alert (``POST /v1/subscriptions/{id}/test``)."""

from __future__ import annotations

from datetime import datetime

from services.common.contracts import Alliance, AllianceSource, EventType, Institution

TEST_NOTE = "这是一条测试消息，由贵单位在 Alliance Watch 中发起，所列医联体为示例，并非真实动态。"
TEST_ALLIANCE_ID = "test-alliance"


def sample_alliance(now: datetime) -> Alliance:
    """The alliance a test alert describes: plainly a sample, in every field a reader sees."""
    lead = Institution(
        id="test-lead", name="示例市第一人民医院（测试）", province="示例省", city="示例市"
    )
    member = Institution(
        id="test-member",
        name="示例县人民医院（测试）",
        province="示例省",
        city="示例市",
        county="示例县",
    )
    return Alliance(
        id=TEST_ALLIANCE_ID,
        type=EventType.specialty_alliance,
        specialty="测试",
        lead=(lead,),
        members=(member,),
        date=now.date().isoformat(),
        provinces=("示例省",),
        confidence=1.0,
        first_seen=now,
        last_seen=now,
        sources=(
            AllianceSource(
                article_id="test-article",
                title="测试消息：示例医联体",
                evidence="这是一条测试消息，用于检查订阅的接收地址能否收到并验证告警。",
            ),
        ),
    )
