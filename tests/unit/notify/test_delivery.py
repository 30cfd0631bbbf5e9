"""Changes become deliveries once; the worker sends them, signed, on the retry schedule."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from services.common.contracts import ChangeKind
from services.notify.adapters.tables import DeliveryRow
from tests.unit.notify.conftest import FAKE_DNS, Api
from tests.unit.notify.factories import CHONGQING, NANBU, alliance, change
from tests.unit.notify.receivers import Receiver, Reply


async def subscribe(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"name": "接收", "channel": "webhook", **body}
    answer = await api.client.post("/v1/subscriptions", json=payload, headers=auth)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def delivery_of(api: Api, auth: dict[str, str], sub_id: str) -> dict[str, Any]:
    items = (await api.client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=auth)).json()[
        "items"
    ]
    assert len(items) == 1, items
    detail = await api.client.get(f"/v1/deliveries/{items[0]['id']}", headers=auth)
    return detail.json()  # type: ignore[no-any-return]


async def test_one_signed_alert_per_matching_subscription(api: Api, receiver: Receiver) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    sichuan = await subscribe(api, auth, url=receiver.url + "/sc", filters={"provinces": ["四川"]})
    ortho = await subscribe(
        api, auth, url=receiver.url + "/ortho", filters={"specialties": ["骨科"]}
    )
    await subscribe(api, auth, url=receiver.url + "/shanxi", filters={"provinces": ["山西"]})
    await subscribe(api, auth, url=receiver.url + "/heart", filters={"specialties": ["心血管"]})
    await subscribe(api, auth, url=receiver.url + "/sure", filters={"min_confidence": 0.95})

    the_change = change("c-1")
    assert await api.parts.service.receive_change(the_change) == 2
    assert await api.parts.service.receive_change(the_change) == 0, "re-consumed: nothing new"
    assert await api.parts.worker.run_once() == 2
    assert await api.parts.worker.run_once() == 0

    assert {r.path for r in receiver.received} == {"/sc", "/ortho"}
    assert len(receiver.received) == 2
    for request, sub in (
        (receiver.by_path("/sc")[0], sichuan),
        (receiver.by_path("/ortho")[0], ortho),
    ):
        payload = Webhook(sub["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "alliance.created"
        assert payload["alliance"]["id"] == "al-1"
        assert request.headers["webhook-id"].startswith("dlv_")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
        assert "四川大学华西医院牵头组建骨科专科联盟" in payload["title"]
    detail = await delivery_of(api, auth, sichuan["id"])
    assert detail["status"] == "delivered" and detail["attempts"] == 1
    assert detail["log"][0]["status_code"] == 204 and detail["log"][0]["latency_ms"] >= 0


async def test_updates_alert_on_material_changes_only(api: Api, receiver: Receiver) -> None:
    _, auth = await api.bureau("南充市卫生健康委员会")
    await subscribe(api, auth, url=receiver.url + "/nc", filters={"cities": ["南充"]})
    first = alliance(members=(NANBU,))
    await api.parts.service.receive_change(change("c-1", first))
    more_news = alliance(members=(NANBU,), sources=2)
    assert (
        await api.parts.service.receive_change(
            change(
                "c-2", more_news, kind=ChangeKind.updated, changed_fields=("sources", "last_seen")
            )
        )
        == 0
    ), "one more article about the same alliance is not news"
    joined = alliance(members=(NANBU, CHONGQING), sources=3)
    assert (
        await api.parts.service.receive_change(
            change("c-3", joined, kind=ChangeKind.updated, changed_fields=("members", "sources"))
        )
        == 1
    )
    await api.parts.worker.run_once()
    bodies = [r.json() for r in receiver.received]
    assert [b["type"] for b in bodies] == ["alliance.created", "alliance.updated"]
    assert "新增成员单位（1家）：重庆市黔江中心医院" in bodies[1]["highlights"]


async def test_a_first_match_after_an_update_is_told_once(api: Api, receiver: Receiver) -> None:
    _, auth = await api.bureau("某省卫健委")
    await subscribe(api, auth, url=receiver.url + "/sure", filters={"min_confidence": 0.8})
    await api.parts.service.receive_change(change("c-1", alliance(confidence=0.5)))
    firmer = alliance(confidence=0.9, sources=2)
    update = change(
        "c-2", firmer, kind=ChangeKind.updated, changed_fields=("confidence", "sources")
    )
    assert await api.parts.service.receive_change(update) == 1
    again = change("c-3", alliance(confidence=0.92, sources=3), kind=ChangeKind.updated)
    assert await api.parts.service.receive_change(again) == 0


async def test_a_failing_endpoint_is_retried_on_the_schedule(api: Api, receiver: Receiver) -> None:
    replies = iter([Reply(500), Reply(503, {"Retry-After": "600"}), Reply(204)])
    receiver.respond = lambda r: next(replies)
    _, auth = await api.bureau("某市卫健委")
    sub = await subscribe(api, auth, url=receiver.url + "/flaky")
    await api.parts.service.receive_change(change("c-1"))
    assert await api.parts.worker.run_once() == 1
    detail = await delivery_of(api, auth, sub["id"])
    assert detail["status"] == "pending" and detail["last_status_code"] == 500
    t0 = api.clock.now()

    api.clock.advance(4.4)  # before 5 s minus jitter: nothing due
    assert await api.parts.worker.run_once() == 0
    api.clock.advance(1.2)  # past 5 s plus jitter
    assert await api.parts.worker.run_once() == 1
    detail = await delivery_of(api, auth, sub["id"])
    # The schedule says ~5 min; the endpoint asked for 10: it gets 10.
    wait = _parse(detail["next_attempt_at"]) - api.clock.now()
    assert timedelta(seconds=599) <= wait <= timedelta(seconds=601)
    api.clock.advance(590)
    assert await api.parts.worker.run_once() == 0
    api.clock.advance(11)
    assert await api.parts.worker.run_once() == 1
    detail = await delivery_of(api, auth, sub["id"])
    assert detail["status"] == "delivered"
    assert [e["status_code"] for e in detail["log"]] == [500, 503, 204]
    assert [e["outcome"] for e in detail["log"]] == ["retry", "retry", "delivered"]
    assert api.clock.now() - t0 > timedelta(minutes=10)
    # Every attempt carried the same webhook-id.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


async def test_the_schedule_runs_out_and_the_delivery_fails(api: Api, receiver: Receiver) -> None:
    receiver.respond = lambda r: Reply(500)
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/down")
    await api.parts.service.receive_change(change("c-1"))
    sent_at = []
    for _ in range(12):
        if await api.parts.worker.run_once():
            sent_at.append(api.clock.now())
        api.clock.advance(timedelta(hours=11))
    detail = await delivery_of(api, auth, sub["id"])
    assert detail["status"] == "failed" and detail["attempts"] == 8
    assert len(sent_at) == 8
    # Three days of failure also disabled the subscription; once the endpoint works and
    # the bureau enables it again, redelivery sends it on a fresh schedule.
    state = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert state["enabled"] is False and "failing since" in state["disabled_reason"]
    receiver.respond = lambda r: Reply(200)
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=auth)
    answer = await api.client.post(f"/v1/deliveries/{detail['id']}/redeliver", headers=auth)
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    assert await api.parts.worker.run_once() == 1
    detail = await delivery_of(api, auth, sub["id"])
    assert detail["status"] == "delivered" and detail["attempts"] == 9


async def test_410_disables_the_subscription(api: Api, receiver: Receiver) -> None:
    receiver.respond = lambda r: Reply(410)
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/gone")
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    state = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert state["enabled"] is False and "410" in state["disabled_reason"]
    assert (await delivery_of(api, auth, sub["id"]))["status"] == "failed"
    # Nothing more goes out to it; redelivery asks to enable it first.
    assert await api.parts.service.receive_change(change("c-2", alliance("al-2"))) == 0
    detail = await delivery_of(api, auth, sub["id"])
    answer = await api.client.post(f"/v1/deliveries/{detail['id']}/redeliver", headers=auth)
    assert answer.status_code == 409 and "enable" in answer.json()["detail"]


async def test_an_endpoint_failing_for_days_is_disabled_with_the_reason(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: Reply(502)
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/broken")
    for day in range(5):
        await api.parts.service.receive_change(change(f"c-{day}", alliance(f"al-{day}")))
        for _ in range(3):
            await api.parts.worker.run_once()
            api.clock.advance(timedelta(hours=8))
    state = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert state["enabled"] is False
    assert "failing since" in state["disabled_reason"] and "HTTP 502" in state["disabled_reason"]
    # Re-enabling clears the failure streak and the pending deliveries go out again.
    receiver.respond = lambda r: Reply(204)
    patched = await api.client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=auth
    )
    assert patched.json()["enabled"] is True and patched.json()["failing_since"] is None


async def test_a_target_the_guard_refuses_fails_at_once_with_its_reason(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bureau_id, auth = await api.bureau("某县卫健局")
    # A name that resolves inward is refused when subscribing, with the reason...
    for url, reason in (
        ("http://internal.bureau.example/hook", "10.0.0.7 (private)"),
        ("http://metadata.bureau.example/latest", "cloud metadata service"),
    ):
        answer = await api.client.post(
            "/v1/subscriptions", json={"name": "x", "channel": "webhook", "url": url}, headers=auth
        )
        assert answer.status_code == 422 and reason in answer.json()["detail"], answer.text
    # ...and one that turns inward later, or a numeric form stored before the guard read
    # such forms, fails its delivery at the first attempt: no retry can mend it.
    later = await subscribe(api, auth, url="http://later.bureau.example/hook")
    monkeypatch.setitem(FAKE_DNS, "later.bureau.example", ["10.0.0.7"])
    octal = await subscribe(api, auth, url="http://octal.bureau.example/hook")
    await api.parts.repository.update_subscription(
        bureau_id, octal["id"], {"url": "http://012.0.0.1:8080/hook"}
    )
    await api.parts.service.receive_change(change("c-1"))
    with caplog.at_level(logging.DEBUG):
        assert await api.parts.worker.run_once() == 2
    for sub, reason in (
        (later, "later.bureau.example resolves to 10.0.0.7 (private)"),
        (octal, "012.0.0.1 is 10.0.0.1 (private)"),
    ):
        detail = await delivery_of(api, auth, sub["id"])
        assert detail["status"] == "failed" and detail["attempts"] == 1
        assert detail["next_attempt_at"] is None
        assert [e["outcome"] for e in detail["log"]] == ["failed"]
        assert "SSRF guard" in detail["last_error"] and reason in detail["last_error"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a refusal"
    api.clock.advance(timedelta(hours=30))
    assert await api.parts.worker.run_once() == 0, "nothing was scheduled again"


async def test_a_redirect_is_never_followed_and_one_pointing_inward_fails_at_once(
    api: Api, receiver: Receiver
) -> None:
    where = {
        "/metadata": "http://169.254.169.254/latest/meta-data/",
        "/inward": "http://internal.bureau.example:8080/x",  # resolves to 10.0.0.7
        "/numeric": f"http://2130706433:{receiver.port}/followed",  # 127.0.0.1, oddly written
        "/moved": "/followed",  # the same endpoint: allowed, but still not followed
    }
    receiver.respond = lambda r: (
        Reply(307, {"Location": where[r.path]}) if r.path in where else Reply(204)
    )
    _, auth = await api.bureau("某县卫健局")
    subs = {path: await subscribe(api, auth, url=receiver.url + path) for path in where}
    await api.parts.service.receive_change(change("c-1"))
    assert await api.parts.worker.run_once() == len(where)
    for path, reason in (
        ("/metadata", "169.254.169.254 (cloud metadata service)"),
        ("/inward", "internal.bureau.example resolves to 10.0.0.7 (private)"),
        ("/numeric", "write 127.0.0.1"),
    ):
        detail = await delivery_of(api, auth, subs[path]["id"])
        assert detail["status"] == "failed" and detail["next_attempt_at"] is None, detail
        assert detail["last_status_code"] == 307
        assert f"redirect to {where[path]} not followed" in detail["last_error"]
        assert reason in detail["last_error"]
    moved = await delivery_of(api, auth, subs["/moved"]["id"])
    assert moved["status"] == "pending" and moved["next_attempt_at"] is not None
    assert moved["last_error"] == "redirect to /followed not followed"
    assert "/followed" not in [r.path for r in receiver.received]


async def test_deliveries_are_listed_newest_first_with_a_cursor(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("某县卫健局")
    await subscribe(api, auth, url=receiver.url + "/x")
    for n in range(5):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    page = (await api.client.get("/v1/deliveries?limit=2", headers=auth)).json()
    seen = [d["alliance_id"] for d in page["items"]]
    while page["next_cursor"]:
        page = (
            await api.client.get(
                f"/v1/deliveries?limit=2&cursor={page['next_cursor']}", headers=auth
            )
        ).json()
        seen += [d["alliance_id"] for d in page["items"]]
    assert seen == [f"al-{n}" for n in reversed(range(5))]
    pending = (await api.client.get("/v1/deliveries?status=pending", headers=auth)).json()
    assert len(pending["items"]) == 5


async def test_a_worker_that_died_mid_send_leaves_the_delivery_due_again(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("某县卫健局")
    await subscribe(api, auth, url=receiver.url + "/x")
    await api.parts.service.receive_change(change("c-1"))
    lease = timedelta(minutes=5)
    claimed = await api.parts.repository.claim_due(api.clock.now(), 10, lease)
    assert len(claimed) == 1 and isinstance(claimed[0][0], DeliveryRow)
    assert await api.parts.worker.run_once() == 0, "claimed by the (dead) other worker"
    api.clock.advance(lease + timedelta(seconds=1))
    assert await api.parts.worker.run_once() == 1
    assert json.loads(receiver.received[0].body)["type"] == "alliance.created"


def _parse(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


async def test_a_subscription_changes_only_when_its_standing_does(
    api: Api, receiver: Receiver
) -> None:
    """Deliveries that succeed leave the subscription as the bureau last changed it; the
    first failure (failing since) and the recovery are changes of its standing."""
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/ok")

    async def state() -> dict[str, Any]:
        answer = await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)
        return answer.json()  # type: ignore[no-any-return]

    created = await state()
    for n in range(2):
        api.clock.advance(timedelta(minutes=5))
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
        assert await api.parts.worker.run_once() == 1
    assert await state() == created

    receiver.respond = lambda r: Reply(502)
    api.clock.advance(timedelta(minutes=5))
    await api.parts.service.receive_change(change("c-2", alliance("al-2")))
    await api.parts.worker.run_once()
    failing = await state()
    assert failing["failing_since"] is not None and failing["updated_at"] > created["updated_at"]

    receiver.respond = lambda r: Reply(200)
    api.clock.advance(timedelta(hours=1))  # the failed alert's retry is due too
    await api.parts.service.receive_change(change("c-3", alliance("al-3")))
    await api.parts.worker.run_once()
    recovered = await state()
    assert recovered["failing_since"] is None and recovered["enabled"] is True
    assert recovered["updated_at"] > failing["updated_at"]
