from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.channels.wecom import MAX_BYTES as WECOM_MAX_BYTES
from services.notify.domain.digest import plan_robot_sends
from services.notify.domain.models import Alert, AlertType
from tests.unit.notify.factories import alliance

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def alerts(count: int) -> list[Alert]:
    return [
        Alert(
            type=AlertType.created,
            change_id=f"c{n}",
            alliance=alliance(id=f"al-{n}"),
            occurred_at=NOW,
        )
        for n in range(count)
    ]


def test_a_quiet_robot_gets_one_message_per_alert() -> None:
    plan = plan_robot_sends(alerts(3), [], NOW, max_bytes=WECOM_MAX_BYTES)
    assert plan.messages == [[0], [1], [2]] and not plan.postponed


def test_a_burst_is_folded_into_digests() -> None:
    burst = alerts(60)
    plan = plan_robot_sends(burst, [], NOW, max_bytes=WECOM_MAX_BYTES)
    assert len(plan.messages) <= 20
    assert sorted([*(i for m in plan.messages for i in m), *plan.postponed]) == list(range(60))
    assert any(len(m) > 1 for m in plan.messages)


def test_an_exhausted_minute_postpones_to_the_first_free_slot() -> None:
    sent = [NOW - timedelta(seconds=50 - n) for n in range(20)]
    plan = plan_robot_sends(alerts(2), sent, NOW, max_bytes=WECOM_MAX_BYTES)
    assert plan.messages == [] and plan.postponed == [0, 1]
    assert plan.resume_at == sent[0] + timedelta(minutes=1)


def test_what_exceeds_the_budget_waits_and_nothing_is_dropped() -> None:
    sent = [NOW - timedelta(seconds=10)] * 19  # one send left this minute
    burst = alerts(40)
    plan = plan_robot_sends(burst, sent, NOW, max_bytes=WECOM_MAX_BYTES)
    assert len(plan.messages) == 1
    sent_now = [i for m in plan.messages for i in m]
    assert sorted(sent_now + plan.postponed) == list(range(40))
    assert plan.resume_at == NOW + timedelta(seconds=50)
