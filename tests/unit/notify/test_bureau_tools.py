"""What a bureau does for itself: a test alert, a bulk replay, a secret rotation with an
overlap (issue 14). Signatures are checked with the reference ``standardwebhooks``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notify.adapters.tables import SubscriptionRow
from services.notify.domain.models import MAX_REPLAY
from services.notify.entrypoints.reseal import reseal_secrets
from tests.unit.notify.conftest import Api
from tests.unit.notify.factories import alliance, change
from tests.unit.notify.receivers import Receiver, Reply, free_port

ROBOT_OK = Reply(200, {"Content-Type": "application/json"}, b'{"errcode":0,"errmsg":"ok"}')


async def subscribe(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"name": "接收", "channel": "webhook", **body}
    answer = await api.client.post("/v1/subscriptions", json=payload, headers=auth)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


# --- the test alert -------------------------------------------------------------------


async def test_a_test_alert_arrives_signed_and_is_in_the_log(api: Api, receiver: Receiver) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    answer = await api.client.post(f"/v1/subscriptions/{sub['id']}/test", headers=auth)
    assert answer.status_code == 202, answer.text
    delivery_id = answer.json()["delivery_id"]
    assert await api.parts.worker.run_once() == 1

    [request] = receiver.received
    payload = Webhook(sub["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "alliance.test"
    assert request.headers["webhook-id"] == delivery_id
    assert payload["title"].startswith("【测试消息】")
    assert "测试" in payload["alliance"]["lead"][0]["name"]
    assert any("测试消息" in line for line in payload["highlights"])

    detail = (await api.client.get(f"/v1/deliveries/{delivery_id}", headers=auth)).json()
    assert detail["type"] == "alliance.test" and detail["status"] == "delivered"
    assert detail["subscription_id"] == sub["id"] and detail["log"][0]["status_code"] == 204
    listed = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert [d["id"] for d in listed] == [delivery_id]


async def test_another_bureaus_subscription_cannot_be_tested(api: Api, receiver: Receiver) -> None:
    _, owner = await api.bureau("成都市卫生健康委员会")
    _, other = await api.bureau("南充市卫生健康委员会")
    sub = await subscribe(api, owner, url=receiver.url + "/hook")
    answer = await api.client.post(f"/v1/subscriptions/{sub['id']}/test", headers=other)
    assert answer.status_code == 404
    assert "成都" not in answer.text and receiver.url not in answer.text
    unknown = await api.client.post("/v1/subscriptions/sub_nope/test", headers=owner)
    assert unknown.status_code == 404
    assert (
        await api.client.post(f"/v1/subscriptions/{sub['id']}/test")
    ).status_code == 401  # no key
    assert await api.parts.worker.run_once() == 0
    assert receiver.received == []
    assert (await api.client.get("/v1/deliveries", headers=other)).json()["items"] == []


async def test_a_robot_gets_the_test_alert_formatted_and_marked(
    api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda r: ROBOT_OK
    _, auth = await api.bureau("某市卫健委")
    sub = await subscribe(api, auth, channel="wecom", url=receiver.url + "/robot")
    answer = await api.client.post(f"/v1/subscriptions/{sub['id']}/test", headers=auth)
    assert answer.status_code == 202
    assert await api.parts.worker.run_once() == 1
    [request] = receiver.received
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("### 【测试消息】")
    detail = (
        await api.client.get(f"/v1/deliveries/{answer.json()['delivery_id']}", headers=auth)
    ).json()
    assert detail["status"] == "delivered"


async def test_a_disabled_subscription_still_gets_its_test_alert(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": False}, headers=auth)
    await api.parts.service.receive_change(change("c-1"))
    answer = await api.client.post(f"/v1/subscriptions/{sub['id']}/test", headers=auth)
    assert answer.status_code == 202
    assert await api.parts.worker.run_once() == 1
    assert [r.json()["type"] for r in receiver.received] == ["alliance.test"]
    # Deleted is deleted: no test either.
    await api.client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth)
    answer = await api.client.post(f"/v1/subscriptions/{sub['id']}/test", headers=auth)
    assert answer.status_code == 404


# --- bulk replay ----------------------------------------------------------------------


async def fail_everything(api: Api) -> None:
    """Run the worker on the clock until no delivery is due any more (the schedule ran
    out: about 27.6 hours, well before an endpoint is disabled)."""
    for _ in range(100):
        await api.parts.worker.run_once()
        due = await api.parts.repository.next_due_at()
        if due is None:
            return
        api.clock.current = max(api.clock.current, due) + timedelta(seconds=1)
    raise AssertionError("deliveries still due")


async def test_a_replay_delivers_every_failed_alert_once_with_its_webhook_id(api: Api) -> None:
    port = free_port()
    _, auth = await api.bureau("四川省卫生健康委员会")
    _, other_auth = await api.bureau("山西省卫生健康委员会")
    down = f"http://127.0.0.1:{port}"
    sub = await subscribe(api, auth, url=down + "/sc")
    other = await subscribe(api, other_auth, url=down + "/sx")
    since = api.clock.now() - timedelta(minutes=1)
    for n in range(3):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    await fail_everything(api)
    failed = (await api.client.get("/v1/deliveries?status=failed", headers=auth)).json()["items"]
    assert len(failed) == 3 and all(d["attempts"] == 8 for d in failed)
    state = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert state["enabled"] is True

    receiver = Receiver(port=port).start()  # the endpoint is back
    try:
        # Another bureau's subscription: 404, and nothing of either is replayed.
        answer = await api.client.post(
            "/v1/deliveries/replay",
            json={"since": since.isoformat(), "subscription_id": other["id"]},
            headers=auth,
        )
        assert answer.status_code == 404
        answer = await api.client.post(
            "/v1/deliveries/replay",
            json={"since": since.isoformat(), "subscription_id": sub["id"], "status": "failed"},
            headers=auth,
        )
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"replayed": 3, "more": False, "next_since": None}
        assert await api.parts.worker.run_once() == 3
        assert await api.parts.worker.run_once() == 0

        sent = receiver.by_path("/sc")
        assert sorted(r.headers["webhook-id"] for r in sent) == sorted(d["id"] for d in failed)
        for request in sent:
            Webhook(sub["secret"]).verify(request.body, request.headers)
        assert receiver.by_path("/sx") == [], "the other bureau's failed alerts stay failed"
        items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
        assert {d["status"] for d in items} == {"delivered"}
        assert {d["attempts"] for d in items} == {9}

        # Nothing failed is left: a second call replays nothing; "all" sends again, same ids.
        again = await api.client.post(
            "/v1/deliveries/replay", json={"since": since.isoformat()}, headers=auth
        )
        assert again.json()["replayed"] == 0
        everything = await api.client.post(
            "/v1/deliveries/replay",
            json={"since": since.isoformat(), "status": "all"},
            headers=auth,
        )
        assert everything.json()["replayed"] == 3
        await api.parts.worker.run_once()
        resent = receiver.by_path("/sc")[3:]
        assert sorted(r.headers["webhook-id"] for r in resent) == sorted(d["id"] for d in failed)
        # The other bureau's own replay reaches its own alerts only.
        theirs = await api.client.post(
            "/v1/deliveries/replay", json={"since": since.isoformat()}, headers=other_auth
        )
        assert theirs.json()["replayed"] == 3
        await api.parts.worker.run_once()
        assert len(receiver.by_path("/sx")) == 3 and len(receiver.by_path("/sc")) == 6
    finally:
        receiver.stop()


async def test_a_replay_takes_its_window_and_its_bound(api: Api, receiver: Receiver) -> None:
    receiver.respond = lambda r: Reply(410)  # gone: failed at once
    _, auth = await api.bureau("某市卫健委")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    start = api.clock.now()
    await api.parts.service.receive_change(change("c-early", alliance("al-early")))
    await api.parts.worker.run_once()
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=auth)
    api.clock.advance(timedelta(hours=1))
    await api.parts.service.receive_change(change("c-late", alliance("al-late")))
    await api.parts.worker.run_once()
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=auth)
    window = {
        "since": (start - timedelta(seconds=1)).isoformat(),
        "until": (start + timedelta(minutes=30)).isoformat(),
    }
    answer = await api.client.post("/v1/deliveries/replay", json=window, headers=auth)
    assert answer.status_code == 202 and answer.json()["replayed"] == 1
    items = (await api.client.get("/v1/deliveries", headers=auth)).json()["items"]
    assert {d["alliance_id"]: d["status"] for d in items} == {
        "al-early": "pending",
        "al-late": "failed",
    }
    # A disabled subscription is named: 409, enable it first.
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": False}, headers=auth)
    answer = await api.client.post(
        "/v1/deliveries/replay",
        json={"since": window["since"], "subscription_id": sub["id"]},
        headers=auth,
    )
    assert answer.status_code == 409 and "enable" in answer.json()["detail"]
    assert MAX_REPLAY == 1000


async def test_a_replay_past_its_bound_says_where_to_go_on(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.notify.service.MAX_REPLAY", 2)
    receiver.respond = lambda r: Reply(410)
    _, auth = await api.bureau("某市卫健委")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    since = api.clock.now()
    for n in range(3):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
        await api.parts.worker.run_once()
        await api.client.patch(
            f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=auth
        )
        api.clock.advance(timedelta(minutes=1))
    receiver.respond = lambda r: Reply(204)
    first = (
        await api.client.post(
            "/v1/deliveries/replay", json={"since": since.isoformat()}, headers=auth
        )
    ).json()
    assert first["replayed"] == 2 and first["more"] is True
    assert parse(first["next_since"]) == since + timedelta(minutes=2)
    assert await api.parts.worker.run_once() == 2
    rest = (
        await api.client.post(
            "/v1/deliveries/replay", json={"since": first["next_since"]}, headers=auth
        )
    ).json()
    assert rest == {"replayed": 1, "more": False, "next_since": None}
    assert await api.parts.worker.run_once() == 1
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 6 and sorted(ids[3:]) == sorted(set(ids[:3]))


async def test_the_new_routes_are_in_the_openapi(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert "post" in paths["/v1/subscriptions/{subscription_id}/test"]
    assert "post" in paths["/v1/deliveries/replay"]
    rotate = paths["/v1/subscriptions/{subscription_id}/rotate-secret"]["post"]
    assert "requestBody" in rotate


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, "until"),
        ({"since": "2024-05-01T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, "until"),
        ({"since": "2024-05-01T00:00:00Z", "status": "delivered"}, "status"),
        ({"since": "2024-05-01T00:00:00Z", "bogus": 1}, "bogus"),
        ({"since": "2024-05-01T00:00:00Z", "subscription_id": "x" * 41}, "subscription_id"),
    ],
)
async def test_a_replay_request_that_makes_no_sense_is_a_clear_422(
    api: Api, body: dict[str, Any], word: str
) -> None:
    _, auth = await api.bureau("某省卫健委")
    answer = await api.client.post("/v1/deliveries/replay", json=body, headers=auth)
    assert answer.status_code == 422, answer.text
    assert word in answer.text


# --- rotation with an overlap ---------------------------------------------------------


async def test_both_signatures_verify_during_the_overlap_then_only_the_new_one(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    old = sub["secret"]
    rotated = await api.client.post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=auth,
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    until = parse(rotated.json()["previous_secret_until"])
    assert until == api.clock.now() + timedelta(hours=1)

    await api.parts.service.receive_change(change("c-1", alliance("al-1")))
    assert await api.parts.worker.run_once() == 1
    during = receiver.received[-1]
    signatures = during.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    Webhook(new).verify(during.body, during.headers)
    Webhook(old).verify(during.body, during.headers)

    api.clock.advance(timedelta(seconds=3600))  # the overlap is over
    await api.parts.service.receive_change(change("c-2", alliance("al-2")))
    assert await api.parts.worker.run_once() == 1
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


async def test_the_default_overlap_is_a_day_and_zero_means_none(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("某市卫健委")
    sub = await subscribe(api, auth, url=receiver.url + "/hook")
    first = await api.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=auth)
    assert first.status_code == 200
    assert parse(first.json()["previous_secret_until"]) == api.clock.now() + timedelta(days=1)
    listed = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert listed["previous_secret_until"] == first.json()["previous_secret_until"]
    assert "secret" not in listed

    # The previous secret is sealed at rest like the current one.
    with Session(api.parts.engine) as session:
        row = session.get(SubscriptionRow, sub["id"])
        assert row is not None and row.previous_secret_sealed is not None
        assert sub["secret"] not in row.previous_secret_sealed
        assert api.parts.box.open(row.previous_secret_sealed) == sub["secret"]

    second = await api.client.post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 0},
        headers=auth,
    )
    assert second.json()["previous_secret_until"] is None
    await api.parts.service.receive_change(change("c-1"))
    await api.parts.worker.run_once()
    [request] = receiver.received
    assert " " not in request.headers["webhook-signature"]
    Webhook(second.json()["secret"]).verify(request.body, request.headers)
    for stale in (sub["secret"], first.json()["secret"]):
        with pytest.raises(WebhookVerificationError):
            Webhook(stale).verify(request.body, request.headers)


@pytest.mark.parametrize("overlap", [-1, 7 * 24 * 3600 + 1, "a day"])
async def test_an_overlap_out_of_bounds_is_a_422(api: Api, overlap: object) -> None:
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url="https://hooks.bureau.example/x")
    answer = await api.client.post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret",
        json={"overlap_seconds": overlap},
        headers=auth,
    )
    assert answer.status_code == 422 and "overlap_seconds" in answer.text


async def test_resealing_covers_the_previous_secret(api: Api) -> None:
    _, auth = await api.bureau("某县卫健局")
    sub = await subscribe(api, auth, url="https://hooks.bureau.example/x")
    await api.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=auth)
    report = await reseal_secrets(api.parts.repository, api.parts.box)
    assert report.resealed == 0 and report.unreadable == ()
    sealed = await api.parts.repository.sealed_secrets()
    assert [ident for ident, _ in sealed] == [sub["id"], sub["id"]]
