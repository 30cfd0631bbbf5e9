"""Robots as DingTalk and WeCom count: one budget per robot URL (retries included), error
codes told apart, msgUuid stable across retries, and WeCom's 4096 bytes never losing the
evidence links nor cutting markdown."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from services.notify.adapters.tables import DeliveryRow
from services.notify.channels import spec_of
from services.notify.channels.dingtalk import BLOCK as DINGTALK_BLOCK
from services.notify.channels.wecom import MAX_BYTES as WECOM_MAX_BYTES
from services.notify.domain.models import Alert, AlertType, Channel
from services.notify.domain.rendering import (
    fold_digests,
    render_digest,
    render_markdown,
)
from services.notify.domain.robots import RobotAnswer, RobotVerdict, message_id_for, robot_key
from tests.unit.notify.conftest import Api
from tests.unit.notify.factories import NOW, alliance, change, institution
from tests.unit.notify.receivers import Receiver, Reply

OK = Reply(200, {"Content-Type": "application/json"}, b'{"errcode":0,"errmsg":"ok"}')


def errcode(code: int, message: str = "") -> Reply:
    body = f'{{"errcode":{code},"errmsg":"{message}"}}'.encode()
    return Reply(200, {"Content-Type": "application/json"}, body)


async def robot(api: Api, auth: dict[str, str], channel: str, url: str, **extra: Any) -> str:
    body = {"name": "工作群机器人", "channel": channel, "url": url, **extra}
    answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def deliveries(api: Api, auth: dict[str, str], sub_id: str) -> list[dict[str, Any]]:
    page = await api.client.get(f"/v1/deliveries?subscription_id={sub_id}&limit=500", headers=auth)
    return list(page.json()["items"])


# --- error codes ------------------------------------------------------------------------


def classify(channel: Channel, code: int) -> RobotVerdict:
    limits = spec_of(channel).robot
    assert limits is not None
    return limits.classify(code)


def test_error_codes_are_told_apart() -> None:
    assert classify(Channel.dingtalk, 0).kind is RobotAnswer.ok
    for code in (130101, 410100):
        verdict = classify(Channel.dingtalk, code)
        assert verdict.kind is RobotAnswer.rate_limited and verdict.wait == DINGTALK_BLOCK
    for code in (300001, 310000, 400013, 400101, 400102, 400106):
        assert classify(Channel.dingtalk, code).kind is RobotAnswer.gone, code
    assert classify(Channel.dingtalk, 430102).kind is RobotAnswer.refused
    assert classify(Channel.dingtalk, -1).kind is RobotAnswer.retry
    for code in (45009, 45033):
        wecom = classify(Channel.wecom, code)
        assert wecom.kind is RobotAnswer.rate_limited and wecom.wait == timedelta(minutes=1)
    for code in (93000, 93004, 93008):
        assert classify(Channel.wecom, code).kind is RobotAnswer.gone, code
    # An application's bad secret or token, which a robot does not have: retried, not gone.
    for code in (40001, 40014):
        assert classify(Channel.wecom, code).kind is RobotAnswer.retry, code
    # A code is read in its own channel's table only.
    assert classify(Channel.wecom, 130101).kind is RobotAnswer.retry
    assert classify(Channel.dingtalk, 45009).kind is RobotAnswer.retry


def test_robot_key_names_the_robot_not_the_url_spelling() -> None:
    a = robot_key("https://oapi.dingtalk.com/robot/send?access_token=abc")
    b = robot_key("HTTPS://OAPI.dingtalk.com/robot/send?timestamp=1&access_token=abc&sign=x")
    assert a == b
    assert a != robot_key("https://oapi.dingtalk.com/robot/send?access_token=abd")
    wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
    assert robot_key(wecom) != robot_key(wecom.replace("k1", "k2"))


def test_message_ids_are_stable_for_the_same_deliveries() -> None:
    assert message_id_for(["dlv_1"]) == "dlv_1"
    digest = message_id_for(["dlv_1", "dlv_2", "dlv_3"])
    assert digest == message_id_for(["dlv_3", "dlv_1", "dlv_2"])
    assert digest != message_id_for(["dlv_1", "dlv_2"])
    assert digest.startswith("msg_") and len(digest) <= 40


# --- one budget per robot URL ---------------------------------------------------------


async def test_two_subscriptions_on_one_robot_share_its_20_a_minute(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: OK
    _, auth = await api.bureau("四川省卫健委")
    url = receiver.url + "/cgi-bin/webhook/send?key=shared"
    first = await robot(api, auth, "wecom", url)
    # The same robot, its URL written another way.
    second = await robot(api, auth, "wecom", receiver.url + "/cgi-bin/webhook/send?key=shared&x=1")
    burst = 60
    for n in range(burst):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n:03d}")))
    start = api.clock.now()
    while api.clock.now() - start < timedelta(minutes=15):
        await api.parts.worker.run_once()
        api.clock.advance(1)
    for sub_id in (first, second):
        items = await deliveries(api, auth, sub_id)
        assert len(items) == burst and all(d["status"] == "delivered" for d in items)
    sends = await api.parts.repository.robot_sends("wecom", url, start - timedelta(minutes=1))
    assert len(sends) == len(receiver.received)
    for i, t in enumerate(sends):
        in_minute = sum(1 for u in sends[i:] if u - t < timedelta(minutes=1))
        assert in_minute <= 20, f"{in_minute} messages to one robot within a minute"


async def test_retries_count_against_the_robots_budget(api: Api, receiver: Receiver) -> None:
    answers = iter([errcode(-1, "system busy"), OK])
    receiver.respond = lambda r: next(answers)
    _, auth = await api.bureau("成都市卫健委")
    url = receiver.url + "/robot/send?access_token=t"
    await robot(api, auth, "dingtalk", url)
    await api.parts.service.receive_change(change("c-1"))
    start = api.clock.now()
    await api.parts.worker.run_once()
    api.clock.advance(10)
    await api.parts.worker.run_once()
    assert len(receiver.received) == 2
    sends = await api.parts.repository.robot_sends("dingtalk", url, start - timedelta(seconds=1))
    assert len(sends) == 2, "the retry of one message is a second message to the robot"


# --- what the robot answered ------------------------------------------------------------


async def test_a_rate_limit_waits_out_the_block_without_burning_attempts(
    api: Api, receiver: Receiver
) -> None:
    answers = iter([errcode(130101, "send too fast, exceed 20 times per minute")])
    receiver.respond = lambda r: next(answers, OK)
    _, auth = await api.bureau("成都市卫健委")
    url = receiver.url + "/robot/send?access_token=t"
    sub_id = await robot(api, auth, "dingtalk", url)
    await api.parts.service.receive_change(change("c-1", alliance("al-1")))
    before = api.clock.now()
    await api.parts.worker.run_once()
    [item] = await deliveries(api, auth, sub_id)
    assert item["status"] == "pending" and "rate limited" in item["last_error"]
    waited = datetime.fromisoformat(item["next_attempt_at"]) - before
    assert waited >= DINGTALK_BLOCK
    # Meanwhile another alert for the blocked robot waits too: nothing is sent.
    await api.parts.service.receive_change(change("c-2", alliance("al-2")))
    api.clock.advance(60)
    await api.parts.worker.run_once()
    assert len(receiver.received) == 1
    state = (await api.client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
    assert state["enabled"] is True and state["failing_since"] is None
    api.clock.advance(DINGTALK_BLOCK)
    await api.parts.worker.run_once()
    items = await deliveries(api, auth, sub_id)
    assert all(d["status"] == "delivered" for d in items)
    with Session(api.parts.engine) as session:
        row = session.get(DeliveryRow, item["id"])
        assert row is not None and row.step == 0, "the block burned no step of the schedule"


async def test_an_invalid_robot_disables_the_subscription_with_the_reason(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: errcode(93000, "invalid webhook url")
    _, auth = await api.bureau("四川省卫健委")
    sub_id = await robot(api, auth, "wecom", receiver.url + "/cgi-bin/webhook/send?key=gone")
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    state = (await api.client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
    assert state["enabled"] is False
    assert "93000" in state["disabled_reason"] and "invalid webhook url" in state["disabled_reason"]
    [item] = await deliveries(api, auth, sub_id)
    assert item["status"] == "failed" and item["attempts"] == 1


async def test_msguuid_is_the_same_on_every_attempt(api: Api, receiver: Receiver) -> None:
    answers = iter([Reply(502), OK])
    receiver.respond = lambda r: next(answers)
    _, auth = await api.bureau("成都市卫健委")
    sub_id = await robot(api, auth, "dingtalk", receiver.url + "/robot/send?access_token=t")
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    api.clock.advance(10)
    await api.parts.worker.run_once()
    first, second = receiver.received
    [item] = await deliveries(api, auth, sub_id)
    assert item["status"] == "delivered"
    assert first.json()["msgUuid"] == second.json()["msgUuid"] == item["id"]


# --- WeCom's 4096 bytes -----------------------------------------------------------------

_LINK = re.compile(r"\[[^\[\]]*\]\([^()\s]+\)")


def assert_markdown_whole(text: str) -> None:
    for line in text.split("\n"):
        assert line.count("**") % 2 == 0, f"bold left open: {line!r}"
        rest = _LINK.sub("", line)
        assert "](" not in rest and "[" not in rest.replace("【", ""), f"link cut: {line!r}"


def big_alert(name: str = "al-big") -> Alert:
    members = tuple(
        institution(
            f"第{n}号名字很长的县级人民医院医疗集团分院",
            f"省份{n}省",
            f"城市{n}市",
            f"区县{n}县",
            id=f"m{n}",
        )
        for n in range(300)
    )
    body = alliance(name, members=members, sources=5)
    joined = "新增成员单位（300家）：" + "、".join(m.name for m in members)
    return Alert(
        type=AlertType.updated, change_id="c", alliance=body, occurred_at=NOW, highlights=(joined,)
    )


def test_a_long_region_line_and_member_list_keep_the_links_in_4096_bytes() -> None:
    alert = big_alert()
    _, text = render_markdown(alert, WECOM_MAX_BYTES)
    assert len(text.encode("utf-8")) <= WECOM_MAX_BYTES
    assert text.endswith("(https://watch.example.cn/alliances/al-big)")
    assert "https://news.example.cn/al-big/1.html" in text, "the source link stays too"
    assert_markdown_whole(text)


def test_a_digest_with_a_huge_alliance_keeps_every_evidence_link() -> None:
    alerts = [big_alert("al-big"), *(big_alert(f"al-{n}") for n in range(3))]
    small = [
        Alert(
            type=AlertType.created,
            change_id=f"s{n}",
            alliance=alliance(f"al-s{n}"),
            occurred_at=NOW,
        )
        for n in range(5)
    ]
    alerts += small
    groups = fold_digests(alerts, WECOM_MAX_BYTES)
    seen = []
    for group in groups:
        _, text = render_digest([alerts[i] for i in group], WECOM_MAX_BYTES)
        assert len(text.encode("utf-8")) <= WECOM_MAX_BYTES
        assert_markdown_whole(text)
        seen += [a.alliance.id for a in alerts if f"/alliances/{a.alliance.id})" in text]
    assert sorted(seen) == sorted(a.alliance.id for a in alerts)


def test_truncation_never_cuts_inside_markdown() -> None:
    from services.notify.domain.rendering import cut_to_bytes

    text = "\n".join(
        [
            "### 标题",
            "- **成员单位**：" + "、".join(f"医院{n}" for n in range(400)),
            "[一个很长的链接标题" + "长" * 50 + "](https://example.cn/" + "a" * 80 + ")",
        ]
    )
    for limit in range(60, 1400, 37):
        cut = cut_to_bytes(text, limit)
        assert len(cut.encode("utf-8")) <= limit
        assert_markdown_whole(cut)


async def test_a_robot_throttling_for_days_runs_out_the_schedule(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: errcode(45009, "api freq out of limit")
    _, auth = await api.bureau("四川省卫健委")
    sub_id = await robot(api, auth, "wecom", receiver.url + "/cgi-bin/webhook/send?key=busy")
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    api.clock.advance(timedelta(hours=73))
    await api.parts.worker.run_once()
    [item] = await deliveries(api, auth, sub_id)
    with Session(api.parts.engine) as session:
        row = session.get(DeliveryRow, item["id"])
        assert row is not None and row.attempts == 2 and row.step == 1
