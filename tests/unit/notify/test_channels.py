"""DingTalk and WeCom robots (signing, errcode, size, 20 a minute with digests) and e-mail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from tests.unit.notify.conftest import Api
from tests.unit.notify.factories import alliance, change
from tests.unit.notify.mailbox import Mailbox
from tests.unit.notify.receivers import Receiver, Reply

OK = Reply(200, {"Content-Type": "application/json"}, b'{"errcode":0,"errmsg":"ok"}')


async def robot(api: Api, auth: dict[str, str], channel: str, url: str, **extra: Any) -> str:
    body = {"name": "工作群机器人", "channel": channel, "url": url, **extra}
    answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_dingtalk_markdown_with_a_signed_url(api: Api, receiver: Receiver) -> None:
    receiver.respond = lambda r: OK
    _, auth = await api.bureau("成都市卫健委")
    await robot(
        api, auth, "dingtalk", receiver.url + "/robot/send?access_token=tok", secret="SECabcdefgh"
    )
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    [request] = receiver.received
    query = request.query
    assert query["access_token"] == "tok"
    expected = base64.b64encode(
        hmac.new(
            b"SECabcdefgh", f"{query['timestamp']}\nSECabcdefgh".encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert query["sign"] == expected
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("【新医联体】")
    assert "**牵头单位**：四川大学华西医院" in body["markdown"]["text"]
    assert body["markdown"]["text"].endswith(
        "[查看证据（联盟详情与原文依据）](https://watch.example.cn/alliances/al-1)"
    )


async def test_a_non_zero_errcode_in_a_200_is_a_failure(api: Api, receiver: Receiver) -> None:
    receiver.respond = lambda r: Reply(200, {}, b'{"errcode":-1,"errmsg":"system busy"}')
    _, auth = await api.bureau("成都市卫健委")
    sub_id = await robot(
        api, auth, "dingtalk", receiver.url + "/robot/send?access_token=t", secret="SECwrongwrong"
    )
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    items = (await api.client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=auth)).json()[
        "items"
    ]
    assert items[0]["status"] == "pending"
    assert items[0]["last_status_code"] == 200 and "errcode -1" in items[0]["last_error"]


async def test_wecom_bursts_fold_into_digests_within_20_a_minute(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: OK
    _, auth = await api.bureau("四川省卫健委")
    sub_id = await robot(api, auth, "wecom", receiver.url + "/cgi-bin/webhook/send?key=k")
    burst = 150
    for n in range(burst):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n:03d}")))
    start = api.clock.now()
    for _ in range(200):
        await api.parts.worker.run_once()
        api.clock.advance(1)
        if api.clock.now() - start > timedelta(minutes=10):
            break
    messages = receiver.received
    contents = [m.json()["markdown"]["content"] for m in messages]
    assert all(len(c.encode("utf-8")) <= 4096 for c in contents)
    assert any("医联体动态汇总" in c for c in contents), "the burst was folded"
    # Nothing dropped: each alliance appears in exactly one message.
    for n in range(burst):
        marker = f"al-{n:03d}/1.html"
        assert sum(marker in c for c in contents) == 1, marker
        # ...and links to its page on the dashboard, its evidence.
        link = f"[查看证据](https://watch.example.cn/alliances/al-{n:03d})"
        single = f"[查看证据（联盟详情与原文依据）](https://watch.example.cn/alliances/al-{n:03d})"
        assert sum(link in c or single in c for c in contents) == 1, link
    # Never more than 20 messages in any minute (of the clock the worker runs on).
    log = []
    page = (
        await api.client.get(f"/v1/deliveries?subscription_id={sub_id}&limit=500", headers=auth)
    ).json()
    assert all(d["status"] == "delivered" for d in page["items"]) and len(page["items"]) == burst
    for item in page["items"]:
        detail = (await api.client.get(f"/v1/deliveries/{item['id']}", headers=auth)).json()
        log += [(e["started_at"], e["batch_size"]) for e in detail["log"]]
    sends = sorted({started for started, _ in log})
    from datetime import datetime

    times = [datetime.fromisoformat(s) for s in sends]
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < timedelta(minutes=1)) <= 20
    assert len(messages) < burst


async def test_email_over_smtp(mail_api: Api, smtp: tuple[Mailbox, int]) -> None:
    mailbox, _ = smtp
    _, auth = await mail_api.bureau("南充市卫健委")
    body = {
        "name": "办公室邮箱",
        "channel": "email",
        "url": "mailto:office@nanchong.example,duty@nanchong.example",
        "filters": {"cities": ["南充"]},
    }
    created = await mail_api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert created.status_code == 201 and created.json()["secret"] is None
    await mail_api.parts.service.receive_change(change("c-1"))
    await mail_api.parts.worker.run_once()
    assert mailbox.arrived.wait(10)
    [message] = mailbox.messages
    assert mailbox.envelopes[0][1] == ["office@nanchong.example", "duty@nanchong.example"]
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "【新医联体】四川大学华西医院牵头组建骨科专科联盟"
    text = message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")  # type: ignore[union-attr]
    assert "成员单位（2家）：南充市中心医院、南部县人民医院" in text
    assert "查看证据：https://watch.example.cn/alliances/al-1" in text
    assert message["Message-ID"].startswith("<dlv_")
    items = (await mail_api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert items[0]["status"] == "delivered" and items[0]["last_status_code"] == 250


def test_json_is_what_robots_receive() -> None:
    assert json.loads(OK.body)["errcode"] == 0
