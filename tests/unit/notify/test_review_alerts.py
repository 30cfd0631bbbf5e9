"""An analyst's review reaches the bureaus: a rejected or merged-away alliance is retracted
to the subscriptions that were told of it (and to no one else, once), and a correction goes
to those told of it and to those it now concerns."""

from __future__ import annotations

from typing import Any

from services.notify.changes import CORRECTED_INTO_NOTE
from services.notify.domain.rendering import MERGED_NOTE, REJECTED_NOTE, REVIEW_NOTE
from tests.unit.notify.conftest import Api
from tests.unit.notify.factories import (
    CHONGQING,
    HUAXI,
    NANBU,
    NANCHONG,
    alliance,
    change,
    correction,
    merger,
    rejection,
)
from tests.unit.notify.receivers import Receiver


async def subscribe(api: Api, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"name": "接收", "channel": "webhook", **body}
    answer = await api.client.post("/v1/subscriptions", json=payload, headers=auth)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def deliveries(api: Api, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = await api.client.get("/v1/deliveries", headers=auth)
    return answer.json()["items"]  # type: ignore[no-any-return]


# --- retractions ----------------------------------------------------------------------


async def test_a_rejection_goes_only_to_the_subscriptions_that_were_told(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    province = await subscribe(api, auth, url=receiver.url + "/sc", filters={"provinces": ["四川"]})
    await subscribe(api, auth, url=receiver.url + "/ortho", filters={"specialties": ["骨科"]})
    await subscribe(api, auth, url=receiver.url + "/shanxi", filters={"provinces": ["山西"]})
    assert await api.parts.service.receive_change(change("c-1")) == 2
    # Told of it, then its filters changed: it is still told the alliance is withdrawn.
    await api.client.patch(
        f"/v1/subscriptions/{province['id']}",
        json={"filters": {"provinces": ["山西"]}},
        headers=auth,
    )
    # Subscribed after the alert: never told, so nothing to withdraw, though it matches.
    await subscribe(api, auth, url=receiver.url + "/late", filters={"provinces": ["四川"]})

    assert await api.parts.service.receive_change(rejection("c-2")) == 2
    assert await api.parts.service.receive_change(rejection("c-2")) == 0, "once, re-consumed"
    await api.parts.worker.run_once()

    retracted = [r for r in receiver.received if r.json()["type"] == "alliance.retracted"]
    assert sorted(r.path for r in retracted) == ["/ortho", "/sc"]
    body = retracted[0].json()
    assert body["title"].startswith("【撤回】四川大学华西医院牵头组建骨科专科联盟")
    assert body["highlights"] == [REJECTED_NOTE]
    assert body["by_review"] is True and body["merged_into"] is None
    assert body["alliance"]["id"] == "al-1"
    assert not receiver.by_path("/late") and not receiver.by_path("/shanxi")


async def test_a_disabled_subscription_is_not_told_of_a_retraction(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("南充市卫生健康委员会")
    sub = await subscribe(api, auth, url=receiver.url + "/nc", filters={"cities": ["南充"]})
    assert await api.parts.service.receive_change(change("c-1")) == 1
    await api.client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": False}, headers=auth)
    assert await api.parts.service.receive_change(rejection("c-2")) == 0


async def test_a_retraction_nobody_was_told_of_makes_no_delivery(api: Api) -> None:
    _, auth = await api.bureau("山西省卫生健康委员会")
    await subscribe(api, auth, url="https://hooks.example.cn/sx", filters={"provinces": ["山西"]})
    assert await api.parts.service.receive_change(change("c-1")) == 0
    assert await api.parts.service.receive_change(rejection("c-2")) == 0
    assert await deliveries(api, auth) == []


async def test_a_merge_tells_which_record_the_alliance_went_into(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    await subscribe(api, auth, url=receiver.url + "/sc", filters={"provinces": ["四川"]})
    await api.parts.service.receive_change(change("c-1", alliance("al-dup")))
    assert await api.parts.service.receive_change(merger("c-2", alliance("al-dup"), "al-7")) == 1
    await api.parts.worker.run_once()

    body = receiver.received[-1].json()
    assert body["type"] == "alliance.retracted"
    assert body["merged_into"] == "al-7"
    assert body["merged_into_url"] == "https://watch.example.cn/alliances/al-7"
    assert body["highlights"] == [MERGED_NOTE, "合并后的记录编号：al-7"]
    assert "查看合并后的记录：https://watch.example.cn/alliances/al-7" in body["text"]
    items = await deliveries(api, auth)
    assert [i["type"] for i in items] == ["alliance.retracted", "alliance.created"]


async def test_a_digest_subscription_gets_the_retraction_held_for_its_digest(
    mail_api: Api,
) -> None:
    api = mail_api
    _, auth = await api.bureau("南充市卫生健康委员会")
    await subscribe(
        api,
        auth,
        channel="email",
        url="mailto:duty@nc.example.cn",
        cadence="daily",
        filters={"cities": ["南充"]},
    )
    await api.parts.service.receive_change(change("c-1"))
    assert await api.parts.service.receive_change(rejection("c-2")) == 1
    assert await api.parts.worker.run_once() == 0, "held for the digest"
    items = await deliveries(api, auth)
    assert [(i["type"], i["next_attempt_at"]) for i in items] == [
        ("alliance.retracted", None),
        ("alliance.created", None),
    ]


# --- corrections ----------------------------------------------------------------------


async def test_a_correction_reaches_the_told_and_those_it_now_concerns(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("某卫健委")
    await subscribe(api, auth, url=receiver.url + "/nanbu", filters={"counties": ["南部县"]})
    await subscribe(api, auth, url=receiver.url + "/cq", filters={"provinces": ["重庆"]})
    await subscribe(api, auth, url=receiver.url + "/shanxi", filters={"provinces": ["山西"]})
    await api.parts.service.receive_change(change("c-1"))  # 南部县 is a member
    # The analyst: 南充市中心医院 co-leads; 南部县人民医院 was never a member, 黔江 is.
    corrected = alliance(lead=(HUAXI, NANCHONG), members=(CHONGQING,), provinces=("四川", "重庆"))
    fix = correction("c-2", corrected, ("lead", "members", "provinces"))
    assert await api.parts.service.receive_change(fix) == 2
    await api.parts.worker.run_once()

    told = receiver.by_path("/nanbu")[-1].json()
    assert told["type"] == "alliance.updated" and told["by_review"] is True
    assert told["title"].startswith("【医联体更正】")
    assert told["highlights"] == [
        REVIEW_NOTE,
        "牵头单位更正为：四川大学华西医院、南充市中心医院",
        "成员单位更正：新增 重庆市黔江中心医院；移除 南部县人民医院",
        "涉及省份更正为：四川、重庆",
    ]
    # New to 重庆: it hears of the alliance as news, with a note why now.
    [news] = receiver.by_path("/cq")
    assert news.json()["type"] == "alliance.created"
    assert news.json()["highlights"] == [CORRECTED_INTO_NOTE]
    assert news.json()["title"].startswith("【新医联体】")
    assert not receiver.by_path("/shanxi")


async def test_a_correction_is_news_to_the_told_whatever_it_changed(api: Api) -> None:
    _, auth = await api.bureau("南充市卫生健康委员会")
    await subscribe(api, auth, url="https://hooks.example.cn/nc", filters={"cities": ["南充"]})
    await api.parts.service.receive_change(change("c-1", alliance(members=(NANBU,))))
    # Not material had a report said it (a confidence); an analyst said it: news.
    fix = correction("c-2", alliance(members=(NANBU,), confidence=1.0), ("confidence",))
    assert await api.parts.service.receive_change(fix) == 1
    assert await api.parts.service.receive_change(fix) == 0, "once, re-consumed"
