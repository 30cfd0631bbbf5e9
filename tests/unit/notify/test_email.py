"""E-mail as its receivers count: List-Unsubscribe (RFC 8058) and the link in the body,
partial refusals, headers that cannot be encoded, and the bureau's contact told when an
endpoint is disabled."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller

from services.notify.adapters.mail import EmailSender, SmtpSettings
from services.notify.adapters.sending import Target
from services.notify.domain.models import Alert, AlertType, Channel
from services.notify.domain.unsubscribe import verify
from tests.unit.notify.conftest import OPERATOR, Api
from tests.unit.notify.factories import NOW, alliance, change, institution
from tests.unit.notify.mailbox import Mailbox
from tests.unit.notify.receivers import Receiver, Reply, free_port

OPERATOR_AUTH = {"Authorization": f"Bearer {OPERATOR}"}


async def email_subscription(api: Api, auth: dict[str, str], url: str, **extra: Any) -> str:
    body = {"name": "办公室邮箱", "channel": "email", "url": url, **extra}
    answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def delivery_of(api: Api, auth: dict[str, str], sub_id: str) -> dict[str, Any]:
    items = (await api.client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=auth)).json()
    [item] = items["items"]
    detail = await api.client.get(f"/v1/deliveries/{item['id']}", headers=auth)
    return dict(detail.json())


async def test_every_email_carries_a_one_click_unsubscribe(
    mail_api: Api, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    _, auth = await mail_api.bureau("南充市卫健委")
    sub_id = await email_subscription(mail_api, auth, "mailto:office@nanchong.example")
    await mail_api.parts.service.receive_change(change("c-1"))
    await mail_api.parts.worker.run_once()
    assert mailbox.arrived.wait(10)
    [message] = mailbox.messages
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<https://notify.example.cn/v1/unsubscribe?token=")
    assert header.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    token = url.split("token=", 1)[1]
    assert verify(mail_api.parts.settings.unsubscribe_key, token) == sub_id
    body = message.get_content()
    assert f"退订此订阅：{url}" in body


async def test_a_partial_refusal_is_not_delivered(mail_api: Api, smtp: tuple[Mailbox, int]) -> None:
    mailbox, _ = smtp
    mailbox.refuse = {"gone@nanchong.example"}
    _, auth = await mail_api.bureau("南充市卫健委")
    sub_id = await email_subscription(
        mail_api, auth, "mailto:office@nanchong.example,gone@nanchong.example"
    )
    await mail_api.parts.service.receive_change(change("c-1"))
    await mail_api.parts.worker.run_once()
    assert mailbox.envelopes[0][1] == ["office@nanchong.example"]
    detail = await delivery_of(mail_api, auth, sub_id)
    assert detail["status"] == "failed", "refused for one recipient: not delivered"
    assert detail["attempts"] == 1 and detail["next_attempt_at"] is None
    assert detail["last_status_code"] == 550
    assert "gone@nanchong.example: 550" in detail["last_error"]
    assert "office@" not in detail["last_error"]


async def test_a_header_that_cannot_be_encoded_fails_at_once(
    mail_api: Api, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    _, auth = await mail_api.bureau("南充市卫健委")
    sub_id = await email_subscription(mail_api, auth, "mailto:office@nanchong.example")
    # A line break in a name reaches the Subject: no header can carry it.
    lead = institution("华西医院\r\nBcc: victim@example.com", "四川省", "成都市", id="i-x")
    await mail_api.parts.service.receive_change(change("c-1", alliance("al-x", lead=(lead,))))
    await mail_api.parts.worker.run_once()
    detail = await delivery_of(mail_api, auth, sub_id)
    assert detail["status"] == "failed" and detail["attempts"] == 1
    assert detail["next_attempt_at"] is None, "no 27 hours of retries"
    assert "cannot be encoded" in detail["last_error"]
    assert mailbox.messages == []


async def test_an_address_the_relay_cannot_carry_fails_at_once() -> None:
    """A non-ASCII mailbox needs SMTPUTF8, which this relay does not offer."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        sender = EmailSender(SmtpSettings("127.0.0.1", port), lambda s: f"https://n.example/{s}")
        alert = Alert(type=AlertType.created, change_id="c", alliance=alliance(), occurred_at=NOW)
        target = Target("sub_1", Channel.email, "mailto:张三@nanchong.example", None)
        outcome = await sender.send(target, [alert], "dlv_1")
    finally:
        controller.stop()
    assert not outcome.ok and outcome.permanent, outcome
    assert outcome.error and "SMTPUTF8" in outcome.error
    assert mailbox.messages == []


async def test_the_contact_is_told_when_an_endpoint_is_disabled(
    mail_api: Api, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    mailbox, _ = smtp
    answer = await mail_api.client.post(
        "/v1/bureaus",
        json={"name": "四川省卫健委", "contact_email": "it@sichuan.example"},
        headers=OPERATOR_AUTH,
    )
    assert answer.status_code == 201 and answer.json()["contact_email"] == "it@sichuan.example"
    auth = {"Authorization": f"Bearer {answer.json()['api_key']}"}
    receiver.respond = lambda r: Reply(410)
    body = {"name": "值班系统", "channel": "webhook", "url": receiver.url + "/hook"}
    created = await mail_api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert created.status_code == 201
    await mail_api.parts.service.receive_change(change("c-1"))
    await mail_api.parts.worker.run_once()
    assert mailbox.arrived.wait(10)
    [notice] = mailbox.messages
    assert mailbox.envelopes[0][1] == ["it@sichuan.example"]
    assert str(notice["Subject"]) == "订阅已停用：值班系统"
    text = notice.get_content()
    assert "410" in text and "原因：" in text


async def test_the_operator_sets_and_removes_a_bureau_contact(api: Api) -> None:
    bureau_id, _ = await api.bureau("南充市卫健委")
    url = f"/v1/bureaus/{bureau_id}"
    bad = await api.client.patch(
        url, json={"contact_email": "not-an-address"}, headers=OPERATOR_AUTH
    )
    assert bad.status_code == 422
    ok = await api.client.patch(url, json={"contact_email": "it@nc.example"}, headers=OPERATOR_AUTH)
    assert ok.status_code == 200 and ok.json()["contact_email"] == "it@nc.example"
    listed = (await api.client.get("/v1/bureaus", headers=OPERATOR_AUTH)).json()
    assert listed[0]["contact_email"] == "it@nc.example"
    cleared = await api.client.patch(url, json={"contact_email": None}, headers=OPERATOR_AUTH)
    assert cleared.json()["contact_email"] is None and cleared.json()["name"] == "南充市卫健委"
    assert (await api.client.patch(url, json={"name": "x"})).status_code == 401
    missing = await api.client.patch("/v1/bureaus/bur_nope", json={}, headers=OPERATOR_AUTH)
    assert missing.status_code == 404
